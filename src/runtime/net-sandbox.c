/* A sandbox's way out: one veth pair. The host end ("nb" + the id's first 13
 * characters) is a port of the bridge nestbox0; the other end, created directly in the
 * sandbox's network namespace, is its eth0 with a /32 address from the subnet and a
 * default route to the bridge's address. With a /32 nothing is on-link for the
 * sandbox but its gateway: every packet, even one for another sandbox's address, goes
 * through the host, where the nftables rules decide (net-nft.c).
 *
 * The bridge port is isolated (IFLA_BRPORT_ISOLATED), so frames between sandboxes
 * never cross the bridge even at layer 2, and it neither learns nor floods unknown
 * unicast: the sandbox's MAC is entered once as a static FDB entry on its port, and
 * its address as a permanent ARP entry on the bridge. A sandbox keeps CAP_NET_RAW (as
 * under Docker), so it can forge ARP replies and source MACs; with learning off and
 * both entries fixed, neither moves another sandbox's traffic to it.
 *
 * eth0 is configured from a short-lived thread that enters the sandbox's network
 * namespace and opens its netlink socket there (the socket keeps that namespace); no
 * other daemon thread ever changes namespace. It all runs while create is under way,
 * so warm-pool sandboxes are networked long before a create claims one.
 *
 * Nothing deletes the pair when a sandbox is killed: it goes with the sandbox's network
 * namespace. Deleting a veth costs about 25 ms here (the kernel's device teardown waits
 * for an RCU barrier), which kill and create would otherwise pay; namespaces are torn
 * down in batches on a kernel worker. The same reason makes a claim without internet
 * access take the pair down (both ends, ~0.4 ms) rather than delete it. Only leftovers
 * are deleted by name (runtime_sandbox_remove_leftovers). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "net-internal.h"

#define NET_THREAD_STACK (256 * 1024) /* two netlink requests; nl_request is 4 KiB */

void net_link_name(char ret[IF_NAMESIZE], const char *id)
{
        snprintf(ret, IF_NAMESIZE, "nb%.13s", id);
}

int net_sandbox_address(const struct net_subnet *s, uint32_t index, uint32_t *ret, struct nb_error *err)
{
        uint32_t size = UINT32_C(1) << (32 - s->prefix);

        /* The last address is the subnet's broadcast. */
        if (index >= size - NET_FIRST_HOST - 1)
                return nb_error_set(err, -ERANGE, "address number %u does not fit the sandboxes' /%u subnet",
                                    index, s->prefix);
        *ret = s->network + NET_FIRST_HOST + index;
        return 0;
}

void net_sandbox_mac(uint32_t address, uint8_t ret[6])
{
        ret[0] = 0x02; /* locally administered, unicast */
        ret[1] = 0x6e;
        ret[2] = (uint8_t)(address >> 24);
        ret[3] = (uint8_t)(address >> 16);
        ret[4] = (uint8_t)(address >> 8);
        ret[5] = (uint8_t)address;
}

/* ---- host side ---------------------------------------------------------------- */

/* Created down and attached: the port is isolated before it carries anything. */
static int veth_create(struct nl_socket *nl, const struct net_host *h, const char *name,
                       const uint8_t mac[6], int netns_fd, struct nb_error *err)
{
        const struct nl_veth v = {
                .name = name,
                .peer = "eth0",
                .mtu = h->mtu,
                .master = h->bridge_index,
                .peer_mac = mac,
                .peer_netns_fd = netns_fd,
        };

        return nl_veth_create(nl, &v, "create the sandbox's veth pair", err);
}

static int port_configure(struct nl_socket *nl, const struct net_host *h, int port, uint32_t address,
                          const uint8_t mac[6], struct nb_error *err)
{
        struct nl_request req = {0};
        struct nlattr *info, *data;
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        struct ndmsg *ndm;
        uint32_t dst = htonl(address);

        nlh = nl_request_add(&req, RTM_NEWLINK, 0, sizeof(*ifi), "isolate the sandbox's bridge port");
        ifi = mnl_nlmsg_get_payload(nlh);
        ifi->ifi_index = port;
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
        info = nl_nest_start(&req, IFLA_LINKINFO);
        nl_put_str(&req, IFLA_INFO_SLAVE_KIND, "bridge");
        data = nl_nest_start(&req, IFLA_INFO_SLAVE_DATA);
        nl_put_u8(&req, IFLA_BRPORT_ISOLATED, 1);
        nl_put_u8(&req, IFLA_BRPORT_LEARNING, 0);
        nl_put_u8(&req, IFLA_BRPORT_UNICAST_FLOOD, 0);
        nl_nest_end(&req, data);
        nl_nest_end(&req, info);

        nlh = nl_request_add(&req, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ndm),
                             "pin the sandbox's MAC to its bridge port");
        ndm = mnl_nlmsg_get_payload(nlh);
        ndm->ndm_family = AF_BRIDGE;
        ndm->ndm_ifindex = port;
        ndm->ndm_state = NUD_NOARP; /* "static": a remote entry that never ages */
        ndm->ndm_flags = NTF_MASTER;
        nl_put(&req, NDA_LLADDR, 6, mac);

        nlh = nl_request_add(&req, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ndm),
                             "pin the sandbox's address to its MAC");
        ndm = mnl_nlmsg_get_payload(nlh);
        ndm->ndm_family = AF_INET;
        ndm->ndm_ifindex = h->bridge_index;
        ndm->ndm_state = NUD_PERMANENT;
        nl_put(&req, NDA_DST, sizeof(dst), &dst);
        nl_put(&req, NDA_LLADDR, 6, mac);
        return nl_request_run(nl, &req, NULL, NULL, err);
}

/* ---- inside ------------------------------------------------------------------- */

struct inside_job {
        int netns_fd;
        int (*fn)(struct inside_job *job); /* runs in the sandbox's namespace */
        uint32_t address, gateway;
        int r;
        struct nb_error err;
};

/* eth0 up and its default route; the first time (with_address) also its address.
 * Bringing it up again after inside_down needs no address (it stayed) but the route
 * again (the kernel dropped it with the link). */
static int inside_bring_up(struct inside_job *job, bool with_address)
{
        struct nl_socket nl = {0};
        struct nl_request req = {0};
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        struct rtmsg *rtm;
        uint32_t addr = htonl(job->address), gw = htonl(job->gateway);
        unsigned index;
        int r;

        r = nl_open(&nl, &job->err);
        if (r < 0)
                return r;
        /* This thread is in the sandbox's namespace: the lookup sees its eth0. */
        index = if_nametoindex("eth0");
        if (index == 0) {
                r = nb_error_set_errno(&job->err, -errno, "cannot find eth0 in the sandbox");
                goto out;
        }

        nlh = nl_request_add(&req, RTM_NEWLINK, 0, sizeof(*ifi), "bring the sandbox's eth0 up");
        ifi = mnl_nlmsg_get_payload(nlh);
        ifi->ifi_index = (int)index;
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;

        if (with_address) {
                struct ifaddrmsg *ifa;

                nlh = nl_request_add(&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa),
                                     "give the sandbox's eth0 its address");
                ifa = mnl_nlmsg_get_payload(nlh);
                ifa->ifa_family = AF_INET;
                ifa->ifa_prefixlen = 32;
                ifa->ifa_index = index;
                nl_put(&req, IFA_LOCAL, sizeof(addr), &addr);
                nl_put(&req, IFA_ADDRESS, sizeof(addr), &addr);
        }

        /* "default via <gateway> dev eth0 onlink": the gateway is reachable although no
         * prefix covers it. */
        nlh = nl_request_add(&req, RTM_NEWROUTE, NLM_F_CREATE | (with_address ? NLM_F_EXCL : NLM_F_REPLACE),
                             sizeof(*rtm), "give the sandbox its default route");
        rtm = mnl_nlmsg_get_payload(nlh);
        rtm->rtm_family = AF_INET;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_STATIC;
        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
        rtm->rtm_type = RTN_UNICAST;
        rtm->rtm_flags = RTNH_F_ONLINK;
        nl_put(&req, RTA_GATEWAY, sizeof(gw), &gw);
        nl_put_u32(&req, RTA_OIF, index);
        r = nl_request_run(&nl, &req, NULL, NULL, &job->err);
out:
        nl_close(&nl);
        return r;
}

static int inside_configure(struct inside_job *job)
{
        return inside_bring_up(job, true);
}

static int inside_up(struct inside_job *job)
{
        return inside_bring_up(job, false);
}

/* eth0 down: the kernel drops every route through it, so connecting anywhere fails at
 * once ("Network is unreachable"), and the sandbox, without CAP_NET_ADMIN, cannot bring
 * it up again. */
static int inside_down(struct inside_job *job)
{
        struct nl_socket nl = {0};
        struct nl_request req = {0};
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        int r;

        r = nl_open(&nl, &job->err);
        if (r < 0)
                return r;
        nlh = nl_request_add(&req, RTM_NEWLINK, 0, sizeof(*ifi), "take the sandbox's eth0 down");
        ifi = mnl_nlmsg_get_payload(nlh);
        ifi->ifi_change = IFF_UP; /* and ifi_flags 0: down */
        nl_put_str(&req, IFLA_IFNAME, "eth0");
        r = nl_request_run(&nl, &req, NULL, NULL, &job->err);
        nl_close(&nl);
        return r == -ENODEV ? 0 : r;
}

static void *inside_thread(void *arg)
{
        struct inside_job *job = arg;

        /* Only this thread changes namespace, and it ends right after. */
        if (setns(job->netns_fd, CLONE_NEWNET) < 0)
                job->r = nb_error_set_errno(&job->err, -errno,
                                            "cannot enter the sandbox's network namespace");
        else
                job->r = job->fn(job);
        return NULL;
}

static int inside_run(struct inside_job *job, struct nb_error *err)
{
        pthread_attr_t attr;
        pthread_t thread;
        int r;

        r = -pthread_attr_init(&attr);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot start a thread to configure the sandbox's eth0");
        (void)pthread_attr_setstacksize(&attr, NET_THREAD_STACK);
        r = -pthread_create(&thread, &attr, inside_thread, job);
        pthread_attr_destroy(&attr);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot start a thread to configure the sandbox's eth0");
        pthread_join(thread, NULL);
        if (job->r < 0 && err)
                *err = job->err;
        return job->r;
}

/* ---- attach, detach ------------------------------------------------------------ */

/* What a sandbox's link is called and which address and MAC it has: all derived, so
 * attach and reconnect agree without storing anything. */
static int link_identity(const struct net_host *h, const char *id, uint32_t index, char name[IF_NAMESIZE],
                         uint32_t *ret_address, uint8_t mac[6], struct nb_error *err)
{
        int r = net_sandbox_address(&h->subnet, index, ret_address, err);

        if (r < 0)
                return r;
        net_sandbox_mac(*ret_address, mac);
        net_link_name(name, id);
        return 0;
}

int net_sandbox_attach(const struct net_host *h, const char *id, uint32_t index, int netns_fd,
                       struct nb_error *err)
{
        return net_sandbox_attach_egress(h, id, index, netns_fd, NULL, err);
}

int net_sandbox_attach_egress(const struct net_host *h, const char *id, uint32_t index, int netns_fd,
                              const struct runtime_egress *e, struct nb_error *err)
{
        struct nl_socket nl = {0};
        char name[IF_NAMESIZE];
        uint32_t address;
        uint8_t mac[6];
        unsigned port;
        int r;

        r = link_identity(h, id, index, name, &address, mac, err);
        if (r < 0)
                return r;

        r = nl_open(&nl, err);
        if (r < 0)
                return r;
        r = veth_create(&nl, h, name, mac, netns_fd, err);
        if (r < 0)
                goto out;
        /* The pair is still down: its rules are in place before it carries anything. */
        if (e && e->n_deny > 0) {
                r = net_egress_set(id, e, err);
                if (r < 0)
                        goto out;
        }
        port = if_nametoindex(name);
        if (port == 0) {
                r = nb_error_set_errno(err, -errno, "cannot find the sandbox's link %s", name);
                goto out;
        }
        r = port_configure(&nl, h, (int)port, address, mac, err);
        if (r < 0)
                goto out;
        {
                struct inside_job job = {.netns_fd = netns_fd,
                                         .fn = inside_configure,
                                         .address = address,
                                         .gateway = h->gateway};

                r = inside_run(&job, err);
        }
out:
        nl_close(&nl);
        return r;
}

int net_sandbox_cut(const char *id, int netns_fd, struct nb_error *err)
{
        struct nl_socket nl = {0};
        struct nl_request req = {0};
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        char name[IF_NAMESIZE];
        int r;

        /* Host end first: with it down, the pair carries nothing whatever the inside does. */
        net_link_name(name, id);
        r = nl_open(&nl, err);
        if (r < 0)
                return r;
        nlh = nl_request_add(&req, RTM_NEWLINK, 0, sizeof(*ifi), "take the sandbox's veth down");
        ifi = mnl_nlmsg_get_payload(nlh);
        ifi->ifi_change = IFF_UP;
        nl_put_str(&req, IFLA_IFNAME, name);
        r = nl_request_run(&nl, &req, NULL, NULL, err);
        nl_close(&nl);
        if (r == -ENODEV)
                return 0; /* it never had one */
        if (r < 0)
                return r;
        {
                struct inside_job job = {.netns_fd = netns_fd, .fn = inside_down};

                return inside_run(&job, err);
        }
}

int net_sandbox_link_state(const char *id)
{
        _cleanup_close_ int fd = -EBADF;
        struct ifreq ifr = {0};

        net_link_name(ifr.ifr_name, id);
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return errno == ENODEV ? NET_LINK_NONE : -errno;
        return ifr.ifr_flags & IFF_UP ? NET_LINK_UP : NET_LINK_DOWN;
}

int net_sandbox_reconnect(const struct net_host *h, const char *id, uint32_t index, int netns_fd,
                          struct nb_error *err)
{
        struct nl_socket nl = {0};
        char name[IF_NAMESIZE];
        uint32_t address;
        uint8_t mac[6];
        unsigned port;
        int r;

        r = link_identity(h, id, index, name, &address, mac, err);
        if (r < 0)
                return r;
        port = if_nametoindex(name);
        if (port == 0)
                return nb_error_set_errno(err, -errno, "cannot find the sandbox's link %s", name);
        r = nl_open(&nl, err);
        if (r < 0)
                return r;
        /* The same settings as at attach (all replaced, none doubled), the host end up. */
        r = port_configure(&nl, h, (int)port, address, mac, err);
        nl_close(&nl);
        if (r < 0)
                return r;
        {
                struct inside_job job = {.netns_fd = netns_fd, .fn = inside_up, .gateway = h->gateway};

                return inside_run(&job, err);
        }
}

int net_sandbox_detach(const char *id, struct nb_error *err)
{
        struct nl_socket nl = {0};
        struct nl_request req = {0};
        struct nlmsghdr *nlh;
        char name[IF_NAMESIZE];
        int r;

        net_link_name(name, id);
        r = nl_open(&nl, err);
        if (r < 0)
                return r;
        nlh = nl_request_add(&req, RTM_DELLINK, 0, sizeof(struct ifinfomsg),
                             "delete the sandbox's veth pair");
        ((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_family = AF_UNSPEC;
        nl_put_str(&req, IFLA_IFNAME, name);
        r = nl_request_run(&nl, &req, NULL, NULL, err);
        nl_close(&nl);
        return r == -ENODEV ? 0 : r;
}
