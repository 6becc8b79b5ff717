/* rtnetlink requests through libmnl, for the network code (net-*.c).
 *
 * A request is a few messages written to the kernel at once; each is acknowledged
 * (NLM_F_ACK) and the first failure is reported with the kernel's own explanation
 * (extended ack) when it gives one. One socket per operation: callers run on any
 * daemon thread, or on a thread that entered a sandbox's network namespace, and a
 * socket stays in the namespace it was created in. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "net-internal.h"

#define NL_RECV_SIZE 32768 /* what the kernel fills per dump read (MNL_SOCKET_DUMP_SIZE) */

int nl_open(struct nl_socket *ret, struct nb_error *err)
{
        struct mnl_socket *sock;
        int one = 1;

        sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!sock)
                return nb_error_set_errno(err, -errno, "cannot open a netlink socket");
        if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = -errno;

                mnl_socket_close(sock);
                return nb_error_set_errno(err, r, "cannot bind a netlink socket");
        }
        /* The kernel's error text, and acks without a copy of the request. Both are
         * optional (older kernels): failures only cost the text. */
        (void)mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof(one));
        (void)mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof(one));
        ret->sock = sock;
        ret->portid = mnl_socket_get_portid(sock);
        ret->seq = 1;
        return 0;
}

void nl_close(struct nl_socket *s)
{
        if (s->sock)
                mnl_socket_close(s->sock);
        s->sock = NULL;
}

static size_t nl_room(const struct nl_request *r)
{
        return sizeof(r->buf) - (size_t)((char *)r->cur - r->buf);
}

struct nlmsghdr *nl_request_add(struct nl_request *r, uint16_t type, uint16_t flags, size_t header_size,
                                const char *what)
{
        struct nlmsghdr *nlh;

        if (r->n >= NL_REQUEST_MAX || r->len + MNL_NLMSG_HDRLEN + MNL_ALIGN(header_size) > sizeof(r->buf)) {
                r->overflow = true;
                /* Still hand out writable memory: the request fails in nl_request_run. */
                r->len = 0;
                r->n = 0;
        }
        nlh = mnl_nlmsg_put_header(r->buf + r->len);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        if (header_size > 0)
                mnl_nlmsg_put_extra_header(nlh, header_size);
        r->cur = nlh;
        r->what[r->n++] = what;
        r->len = (size_t)((char *)nlh - r->buf) + nlh->nlmsg_len;
        return nlh;
}

/* Keeps r->len in step with the current message after an attribute was added. */
static void nl_sync(struct nl_request *r, bool ok)
{
        if (!ok)
                r->overflow = true;
        r->len = (size_t)((char *)r->cur - r->buf) + r->cur->nlmsg_len;
}

void nl_put(struct nl_request *r, uint16_t type, size_t len, const void *data)
{
        nl_sync(r, mnl_attr_put_check(r->cur, nl_room(r), type, len, data));
}

void nl_put_u8(struct nl_request *r, uint16_t type, uint8_t v)
{
        nl_sync(r, mnl_attr_put_u8_check(r->cur, nl_room(r), type, v));
}

void nl_put_u32(struct nl_request *r, uint16_t type, uint32_t v)
{
        nl_sync(r, mnl_attr_put_u32_check(r->cur, nl_room(r), type, v));
}

void nl_put_str(struct nl_request *r, uint16_t type, const char *s)
{
        nl_sync(r, mnl_attr_put_strz_check(r->cur, nl_room(r), type, s));
}

void *nl_put_header(struct nl_request *r, size_t size)
{
        void *p;

        if (r->cur->nlmsg_len + MNL_ALIGN(size) > nl_room(r)) {
                r->overflow = true;
                memset(r->scratch, 0, sizeof(r->scratch));
                return size <= sizeof(r->scratch) ? r->scratch : NULL; /* never sent */
        }
        p = mnl_nlmsg_put_extra_header(r->cur, size);
        nl_sync(r, true);
        return p;
}

struct nlattr *nl_nest_start(struct nl_request *r, uint16_t type)
{
        struct nlattr *nest = mnl_attr_nest_start_check(r->cur, nl_room(r), type);

        if (!nest) {
                r->overflow = true;
                return NULL;
        }
        nl_sync(r, true);
        return nest;
}

void nl_nest_end(struct nl_request *r, struct nlattr *nest)
{
        if (nest)
                mnl_attr_nest_end(r->cur, nest);
        nl_sync(r, true);
}

/* The kernel's text for a failed message (NLMSGERR_ATTR_MSG), or NULL. */
static const char *nl_ext_ack_text(const struct nlmsghdr *nlh)
{
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *attr;
        size_t offset = sizeof(*e);

        if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                return NULL;
        /* Without NLM_F_CAPPED the original request sits between the error and the TLVs. */
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                offset += e->msg.nlmsg_len - sizeof(e->msg);
        if (MNL_NLMSG_HDRLEN + offset > nlh->nlmsg_len)
                return NULL;
        mnl_attr_for_each(attr, nlh, offset)
        {
                if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
                    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
                        return mnl_attr_get_str(attr);
        }
        return NULL;
}

int nl_request_run(struct nl_socket *s, struct nl_request *r,
                   int (*reply)(const struct nlmsghdr *nlh, void *data), void *data, struct nb_error *err)
{
        _cleanup_free_ char *buf = NULL;
        uint32_t first = s->seq;
        unsigned done = 0;
        int failed = 0;
        size_t off = 0;

        if (r->overflow || r->n == 0)
                return nb_error_set(err, -ENOBUFS, "netlink request too large (%u messages)", r->n);
        for (unsigned i = 0; i < r->n; i++) {
                struct nlmsghdr *nlh = (struct nlmsghdr *)(r->buf + off);

                nlh->nlmsg_seq = s->seq++;
                off += nlh->nlmsg_len;
        }
        if (mnl_socket_sendto(s->sock, r->buf, r->len) < 0)
                return nb_error_set_errno(err, -errno, "cannot send a netlink request");
        buf = malloc(NL_RECV_SIZE);
        if (!buf)
                return nb_error_oom(err);

        /* Every message ends in an ack, an error or (dumps) NLMSG_DONE; the kernel goes on
         * with the next message after a failure, so read until all of them answered. */
        while (done < r->n) {
                ssize_t n = mnl_socket_recvfrom(s->sock, buf, NL_RECV_SIZE);
                const struct nlmsghdr *nlh;
                int left;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return nb_error_set_errno(err, -errno, "cannot read the kernel's netlink answer");
                }
                left = (int)n;
                for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left);
                     nlh = mnl_nlmsg_next(nlh, &left)) {
                        uint32_t i = nlh->nlmsg_seq - first;

                        if (nlh->nlmsg_pid != s->portid || nlh->nlmsg_seq < first || i >= r->n)
                                continue; /* not an answer to this request */
                        if (nlh->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

                                if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*e))
                                        return nb_error_set(err, -EPROTO, "short netlink error message");
                                done++;
                                if (e->error < 0 && failed == 0) {
                                        const char *text = nl_ext_ack_text(nlh);

                                        failed = e->error;
                                        if (text && text[0])
                                                nb_error_set(err, failed, "cannot %s: %s (%s)", r->what[i],
                                                             strerror(-failed), text);
                                        else
                                                nb_error_set_errno(err, failed, "cannot %s", r->what[i]);
                                }
                        } else if (nlh->nlmsg_type == NLMSG_DONE) {
                                const int *status = mnl_nlmsg_get_payload(nlh);

                                done++;
                                /* A dump that failed midway says so in its DONE message. */
                                if (nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(int) && *status < 0 &&
                                    failed == 0)
                                        failed = nb_error_set_errno(err, *status, "cannot %s", r->what[i]);
                        } else if (reply && failed == 0) {
                                int q = reply(nlh, data);

                                if (q < 0)
                                        failed = nb_error_set_errno(err, q, "cannot %s", r->what[i]);
                        }
                }
        }
        return failed;
}

int nl_veth_create(struct nl_socket *s, const struct nl_veth *v, const char *what, struct nb_error *err)
{
        struct nl_request req = {0};
        struct nlattr *info, *data, *peer;
        struct ifinfomsg *peer_ifi;

        nl_request_add(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg), what);
        nl_put_str(&req, IFLA_IFNAME, v->name);
        if (v->mtu)
                nl_put_u32(&req, IFLA_MTU, v->mtu);
        if (v->master > 0)
                nl_put_u32(&req, IFLA_MASTER, (uint32_t)v->master);
        info = nl_nest_start(&req, IFLA_LINKINFO);
        nl_put_str(&req, IFLA_INFO_KIND, "veth");
        data = nl_nest_start(&req, IFLA_INFO_DATA);
        peer = nl_nest_start(&req, VETH_INFO_PEER);
        peer_ifi = nl_put_header(&req, sizeof(*peer_ifi));
        if (peer_ifi)
                peer_ifi->ifi_family = AF_UNSPEC;
        nl_put_str(&req, IFLA_IFNAME, v->peer);
        if (v->mtu)
                nl_put_u32(&req, IFLA_MTU, v->mtu);
        if (v->peer_mac)
                nl_put(&req, IFLA_ADDRESS, 6, v->peer_mac);
        if (v->peer_netns_fd >= 0)
                nl_put_u32(&req, IFLA_NET_NS_FD, (uint32_t)v->peer_netns_fd);
        nl_nest_end(&req, peer);
        nl_nest_end(&req, data);
        nl_nest_end(&req, info);
        return nl_request_run(s, &req, NULL, NULL, err);
}
