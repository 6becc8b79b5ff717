/* The host side of sandboxes' network, set up when `nestbox serve` starts and checked
 * again (never duplicated) on every start: the bridge nestbox0 holding the subnet's
 * first address (the sandboxes' gateway), net.ipv4.ip_forward, the nftables table
 * (net-nft.c) and, when another firewall drops forwarded traffic by default, two
 * accepts in its chain (net-nft-foreign.c). Everything is idempotent: an existing
 * bridge is reused, the address is replaced, the table is replaced whole. Nothing is
 * removed when the daemon stops: sandboxes outlive it and keep their traffic flowing.
 *
 * The bridge gets a fixed MAC: a bridge without one takes the lowest MAC among its
 * ports, so it would change as sandboxes come and go, and every sandbox's ARP entry
 * for its gateway would go stale. IPv6 is off on the bridge: sandboxes only get IPv4,
 * and nothing a sandbox sends (router advertisements) may configure the host. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "../base/log.h"
#include "net-internal.h"
#include "runtime-internal.h"

static const uint8_t bridge_mac[6] = {0x02, 0x6e, 0x62, 0x00, 0x00, 0x01}; /* "nb", locally administered */

int net_subnet_parse(const char *text, struct net_subnet *ret, struct nb_error *err)
{
        char addr[INET_ADDRSTRLEN];
        const char *slash = text ? strchr(text, '/') : NULL;
        struct in_addr in;
        unsigned prefix;
        uint32_t network, mask;
        char *end;

        if (!slash || (size_t)(slash - text) >= sizeof(addr))
                return nb_error_set(err, -EINVAL,
                                    "subnet '%.64s' is not of the form a.b.c.d/n (e.g. 10.88.0.0/16)",
                                    text ? text : "");
        memcpy(addr, text, (size_t)(slash - text));
        addr[slash - text] = 0;
        errno = 0;
        prefix = (unsigned)strtoul(slash + 1, &end, 10);
        if (inet_pton(AF_INET, addr, &in) != 1 || slash[1] < '0' || slash[1] > '9' || *end || errno)
                return nb_error_set(err, -EINVAL,
                                    "subnet '%.64s' is not of the form a.b.c.d/n (e.g. 10.88.0.0/16)", text);
        /* /20 leaves 4094 addresses: one per uid slot (the warm pool's end is 3800). */
        if (prefix < 8 || prefix > 20)
                return nb_error_set(
                        err, -EINVAL,
                        "subnet '%.64s' must be between /8 and /20 (every sandbox slot needs an address)",
                        text);
        network = ntohl(in.s_addr);
        mask = ~UINT32_C(0) << (32 - prefix);
        if (network & ~mask) {
                struct in_addr base = {.s_addr = htonl(network & mask)};

                inet_ntop(AF_INET, &base, addr, sizeof(addr));
                return nb_error_set(err, -EINVAL, "subnet '%.64s' has host bits set: did you mean %s/%u?",
                                    text, addr, prefix);
        }
        ret->network = network;
        ret->prefix = prefix;
        return 0;
}

bool net_subnet_overlaps(const struct net_subnet *a, uint32_t network, unsigned prefix)
{
        unsigned shorter = a->prefix < prefix ? a->prefix : prefix;
        uint32_t mask = shorter == 0 ? 0 : ~UINT32_C(0) << (32 - shorter);

        return (a->network & mask) == (network & mask);
}

static void format_subnet(char *buf, size_t size, uint32_t network, unsigned prefix)
{
        char a[INET_ADDRSTRLEN];
        struct in_addr in = {.s_addr = htonl(network)};

        inet_ntop(AF_INET, &in, a, sizeof(a));
        snprintf(buf, size, "%s/%u", a, prefix);
}

/* ---- links ------------------------------------------------------------------ */

struct link_info {
        int index;
        unsigned mtu;
        char kind[16];
};

static int link_kind_cb(const struct nlattr *attr, void *data)
{
        struct link_info *li = data;

        if (mnl_attr_get_type(attr) == IFLA_INFO_KIND && mnl_attr_validate(attr, MNL_TYPE_STRING) >= 0)
                snprintf(li->kind, sizeof(li->kind), "%.*s", (int)mnl_attr_get_payload_len(attr),
                         (const char *)mnl_attr_get_payload(attr));
        return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
        struct link_info *li = data;

        switch (mnl_attr_get_type(attr)) {
        case IFLA_MTU:
                if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
                        li->mtu = mnl_attr_get_u32(attr);
                break;
        case IFLA_LINKINFO:
                (void)mnl_attr_parse_nested(attr, link_kind_cb, li);
                break;
        }
        return MNL_CB_OK;
}

static int link_reply(const struct nlmsghdr *nlh, void *data)
{
        struct link_info *li = data;
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

        if (nlh->nlmsg_type != RTM_NEWLINK)
                return 0;
        li->index = ifi->ifi_index;
        (void)mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, li);
        return 0;
}

/* Looks a link up by name (or by index when name is NULL). -ENODEV when there is none. */
static int link_get(struct nl_socket *nl, const char *name, int index, struct link_info *ret,
                    struct nb_error *err)
{
        struct nl_request req = {0};
        struct nlmsghdr *nlh =
                nl_request_add(&req, RTM_GETLINK, 0, sizeof(struct ifinfomsg), "look up a link");
        struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = name ? 0 : index;
        if (name)
                nl_put_str(&req, IFLA_IFNAME, name);
        nl_put_u32(&req, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        *ret = (struct link_info){0};
        return nl_request_run(nl, &req, link_reply, ret, err);
}

static int bridge_create(struct nl_socket *nl, struct nb_error *err)
{
        struct nl_request req = {0};
        struct nlattr *info;

        nl_request_add(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg),
                       "create the bridge " NET_BRIDGE);
        nl_put_str(&req, IFLA_IFNAME, NET_BRIDGE);
        nl_put(&req, IFLA_ADDRESS, sizeof(bridge_mac), bridge_mac);
        info = nl_nest_start(&req, IFLA_LINKINFO);
        nl_put_str(&req, IFLA_INFO_KIND, "bridge");
        nl_nest_end(&req, info);
        return nl_request_run(nl, &req, NULL, NULL, err);
}

static struct nlmsghdr *add_gateway_addr(struct nl_request *req, const struct net_host *h, uint16_t type,
                                         uint16_t flags, unsigned prefix, const char *what)
{
        struct nlmsghdr *nlh = nl_request_add(req, type, flags, sizeof(struct ifaddrmsg), what);
        struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        uint32_t gw = htonl(h->gateway);

        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (unsigned char)prefix;
        ifa->ifa_index = (unsigned)h->bridge_index;
        nl_put(req, IFA_LOCAL, sizeof(gw), &gw);
        nl_put(req, IFA_ADDRESS, sizeof(gw), &gw);
        return nlh;
}

/* The gateway address on the bridge as a /32 plus a route to the subnet (both replaced if
 * present: never doubled), and the bridge up.
 *
 * Why not "10.88.0.1/16": with the subnet on-link on the bridge, the kernel answers a
 * sandbox's packet for another sandbox with an ICMP redirect ("send it there directly")
 * before the forward hook ever rejects it; the sandbox then waits for an ARP answer that
 * the isolated port never lets through. A /32 address with a plain route keeps every
 * sandbox's source off-link for the redirect logic while the host still routes to
 * sandboxes through the bridge. */
static int bridge_configure(struct nl_socket *nl, const struct net_host *h, struct nb_error *err)
{
        struct nl_request req = {0};
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        struct rtmsg *rtm;
        uint32_t dst = htonl(h->subnet.network), gw = htonl(h->gateway);

        /* An older nestbox gave the address the subnet's prefix: take that one away. */
        add_gateway_addr(&req, h, RTM_DELADDR, 0, h->subnet.prefix, "remove the bridge's old address");
        (void)nl_request_run(nl, &req, NULL, NULL, NULL);

        req = (struct nl_request){0};
        add_gateway_addr(&req, h, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, 32,
                         "give the bridge " NET_BRIDGE " its address");
        nlh = nl_request_add(&req, RTM_NEWLINK, 0, sizeof(*ifi), "bring the bridge " NET_BRIDGE " up");
        ifi = mnl_nlmsg_get_payload(nlh);
        ifi->ifi_index = h->bridge_index;
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;

        nlh = nl_request_add(&req, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*rtm),
                             "route the sandboxes' subnet to the bridge " NET_BRIDGE);
        rtm = mnl_nlmsg_get_payload(nlh);
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = (unsigned char)h->subnet.prefix;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_BOOT;
        rtm->rtm_scope = RT_SCOPE_LINK;
        rtm->rtm_type = RTN_UNICAST;
        nl_put(&req, RTA_DST, sizeof(dst), &dst);
        nl_put(&req, RTA_PREFSRC, sizeof(gw), &gw);
        nl_put_u32(&req, RTA_OIF, (uint32_t)h->bridge_index);
        return nl_request_run(nl, &req, NULL, NULL, err);
}

/* Creates and deletes a veth pair: a host without veth support learns it here, once,
 * rather than from every sandbox create. */
static int probe_veth(struct nl_socket *nl, struct nb_error *err)
{
        struct nl_request req = {0};
        struct nlmsghdr *nlh;
        char a[IF_NAMESIZE], b[IF_NAMESIZE];
        int r;

        snprintf(a, sizeof(a), "nbp%da", (int)getpid());
        snprintf(b, sizeof(b), "nbp%db", (int)getpid());
        r = nl_veth_create(nl, &(struct nl_veth){.name = a, .peer = b, .peer_netns_fd = -1},
                           "create a veth pair (probe)", err);
        if (r < 0)
                return r;

        nlh = nl_request_add(&req, RTM_DELLINK, 0, sizeof(struct ifinfomsg), "delete the probe veth pair");
        ((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_family = AF_UNSPEC;
        nl_put_str(&req, IFLA_IFNAME, a);
        return nl_request_run(nl, &req, NULL, NULL, err);
}

/* ---- routes ----------------------------------------------------------------- */

struct route_scan {
        const struct net_subnet *subnet;
        int bridge_index;
        int default_oif;
        uint32_t default_metric;
        char collision[96]; /* "10.88.1.0/24 dev eth1" */
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
        const struct nlattr **tb = data;
        unsigned type = mnl_attr_get_type(attr);

        if (type <= RTA_MAX && mnl_attr_type_valid(attr, RTA_MAX) >= 0)
                tb[type] = attr;
        return MNL_CB_OK;
}

static int route_reply(const struct nlmsghdr *nlh, void *data)
{
        struct route_scan *s = data;
        const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[RTA_MAX + 1] = {0};
        uint32_t table, dst = 0, metric = 0;
        int oif = 0;

        if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != AF_INET)
                return 0;
        (void)mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
        table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
        if (table != RT_TABLE_MAIN)
                return 0; /* local/broadcast routes of the host's own addresses live elsewhere */
        if (tb[RTA_DST] && mnl_attr_get_payload_len(tb[RTA_DST]) == 4)
                dst = ntohl(*(const uint32_t *)mnl_attr_get_payload(tb[RTA_DST]));
        if (tb[RTA_OIF])
                oif = (int)mnl_attr_get_u32(tb[RTA_OIF]);
        if (tb[RTA_PRIORITY])
                metric = mnl_attr_get_u32(tb[RTA_PRIORITY]);
        if (rtm->rtm_dst_len == 0) {
                if (oif > 0 && (s->default_oif == 0 || metric < s->default_metric)) {
                        s->default_oif = oif;
                        s->default_metric = metric;
                }
                return 0;
        }
        /* Our own bridge's routes (this or an earlier subnet) are no collision. */
        if (oif != 0 && oif == s->bridge_index)
                return 0;
        if (s->collision[0] == 0 && net_subnet_overlaps(s->subnet, dst, rtm->rtm_dst_len)) {
                char net[32], dev[IF_NAMESIZE] = "";

                format_subnet(net, sizeof(net), dst, rtm->rtm_dst_len);
                if (oif > 0 && !if_indextoname((unsigned)oif, dev))
                        dev[0] = 0;
                snprintf(s->collision, sizeof(s->collision), "%s%s%s", net, dev[0] ? " dev " : "", dev);
        }
        return 0;
}

static int routes_scan(struct nl_socket *nl, struct route_scan *s, struct nb_error *err)
{
        struct nl_request req = {0};
        struct nlmsghdr *nlh = nl_request_add(&req, RTM_GETROUTE, NLM_F_DUMP, sizeof(struct rtmsg),
                                              "list the host's routes");

        ((struct rtmsg *)mnl_nlmsg_get_payload(nlh))->rtm_family = AF_INET;
        return nl_request_run(nl, &req, route_reply, s, err);
}

/* ---- sysctls ---------------------------------------------------------------- */

static int ensure_ip_forward(struct nb_error *err)
{
        const char *path = "/proc/sys/net/ipv4/ip_forward";
        char v[16] = "";
        int r;

        r = cgroup_read_at(AT_FDCWD, path, v, sizeof(v));
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot read %s", path);
        if (v[0] == '1')
                return 0;
        r = cgroup_write_at(AT_FDCWD, path, "1");
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot enable IPv4 forwarding (%s)", path);
        log_info("network: enabled IPv4 forwarding (net.ipv4.ip_forward was %c, now 1) so sandboxes reach "
                 "the "
                 "network",
                 v[0] ? v[0] : '?');
        return 0;
}

/* ---- setup ------------------------------------------------------------------ */

int net_host_setup(struct net_host *h, const char *subnet, const struct net_dns *dns, bool *ret_fatal,
                   struct nb_error *err)
{
        struct nl_socket nl = {0};
        struct route_scan scan = {0};
        struct link_info br, dev;
        char ruleset[4096], net[32];
        int r;

        *h = (struct net_host){0};
        *ret_fatal = true;
        r = net_subnet_parse(subnet, &h->subnet, err);
        if (r < 0)
                return nb_error_prefix(err, "--subnet");
        h->gateway = h->subnet.network + 1;
        format_subnet(net, sizeof(net), h->subnet.network, h->subnet.prefix);

        *ret_fatal = false;
        r = nl_open(&nl, err);
        if (r < 0)
                return r;
        r = link_get(&nl, NET_BRIDGE, 0, &br, err);
        if (r == -ENODEV)
                br.index = 0;
        else if (r < 0)
                goto out;
        else if (strcmp(br.kind, "bridge") != 0) {
                *ret_fatal = true;
                r = nb_error_set(err, -EEXIST,
                                 "a network device named " NET_BRIDGE
                                 " exists and is not a bridge (%s): remove it "
                                 "(ip link del " NET_BRIDGE ") or start with --subnet none",
                                 br.kind[0] ? br.kind : "no kind");
                goto out;
        }

        scan.subnet = &h->subnet;
        scan.bridge_index = br.index;
        r = routes_scan(&nl, &scan, err);
        if (r < 0)
                goto out;
        if (scan.collision[0]) {
                *ret_fatal = true;
                r = nb_error_set(
                        err, -EADDRINUSE,
                        "subnet %s for sandboxes overlaps the host's route to %s: start nestbox serve with "
                        "--subnet set to a free private range (e.g. --subnet 10.89.0.0/16), or --subnet "
                        "none "
                        "for loopback-only sandboxes",
                        net, scan.collision);
                goto out;
        }

        r = probe_veth(&nl, err);
        if (r < 0)
                goto out;
        if (br.index == 0) {
                r = bridge_create(&nl, err);
                if (r < 0)
                        goto out;
                r = link_get(&nl, NET_BRIDGE, 0, &br, err);
                if (r < 0)
                        goto out;
        }
        h->bridge_index = br.index;
        (void)cgroup_write_at(AT_FDCWD, "/proc/sys/net/ipv6/conf/" NET_BRIDGE "/disable_ipv6", "1");
        r = bridge_configure(&nl, h, err);
        if (r < 0)
                goto out;
        r = ensure_ip_forward(err);
        if (r < 0)
                goto out;
        r = net_nft_ruleset(ruleset, sizeof(ruleset), dns ? dns->servers : NULL, dns ? dns->n : 0);
        if (r < 0) {
                nb_error_set_errno(err, r, "cannot write the nftables ruleset");
                goto out;
        }
        r = net_nft_apply(ruleset, err);
        if (r < 0)
                goto out;
        {
                struct nb_error ferr = {0};

                /* The host's firewall is its admin's: when we cannot open it, say what is wrong
                 * and go on (sandboxes still get their network; it may stop at that firewall). */
                if (net_nft_open_foreign_forward(NET_BRIDGE, &ferr) < 0)
                        log_warning("network: sandboxes may have no way out: %s", ferr.message);
        }

        /* Sandboxes' packets leave through the default route's device: a larger MTU inside
         * would only be cut down by path MTU discovery on every connection. */
        h->mtu = NET_DEFAULT_MTU;
        if (scan.default_oif > 0 && link_get(&nl, NULL, scan.default_oif, &dev, NULL) >= 0 && dev.mtu >= 576)
                h->mtu = dev.mtu;
        h->enabled = true;
        r = 0;
out:
        nl_close(&nl);
        return r;
}
