/* Internal interface of the runtime's network code (docs/ARCHITECTURE.md, "Network").
 * Nothing outside src/runtime/ (and its unit tests) includes this file.
 *
 *   netlink.c      rtnetlink requests through libmnl
 *   net-host.c     the host side, set up once per `nestbox serve`: bridge, address,
 *                  ip_forward, the nftables table (net-nft.c)
 *   net-sandbox.c  one veth pair per sandbox: host end on the bridge, eth0 inside
 *   net-etc.c      the sandbox's /etc/resolv.conf and /etc/hosts
 * All of it runs on the parent side (daemon threads): nothing here is called from the
 * clone3()d child. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/error.h"
#include "runtime.h"

/* ---- netlink.c ----------------------------------------------------------- */

#define NL_REQUEST_MAX 8

struct mnl_socket;
struct nlmsghdr;
struct nlattr;

struct nl_socket {
        struct mnl_socket *sock;
        unsigned portid;
        uint32_t seq;
};

/* Messages written at once. Attribute helpers add to the last message; running out of
 * room only marks the request, which nl_request_run() then refuses (-ENOBUFS). */
struct nl_request {
        char buf[4096] __attribute__((aligned(8)));
        size_t len;
        unsigned n;
        bool overflow;
        struct nlmsghdr *cur;
        const char *what[NL_REQUEST_MAX]; /* "create the bridge": for error messages */
        char scratch[64] __attribute__((aligned(8)));
};

/** Opens a NETLINK_ROUTE socket (CLOEXEC) in the calling thread's network namespace. */
int nl_open(struct nl_socket *ret, struct nb_error *err);
void nl_close(struct nl_socket *s);

/** Starts a message (NLM_F_REQUEST | NLM_F_ACK | flags) with a zeroed family header of
 *  header_size bytes right after the nlmsghdr; returns it. */
struct nlmsghdr *nl_request_add(struct nl_request *r, uint16_t type, uint16_t flags, size_t header_size,
                                const char *what);
void nl_put(struct nl_request *r, uint16_t type, size_t len, const void *data);
void nl_put_u8(struct nl_request *r, uint16_t type, uint8_t v);
void nl_put_u32(struct nl_request *r, uint16_t type, uint32_t v);
void nl_put_str(struct nl_request *r, uint16_t type, const char *s);
/** Appends a zeroed fixed-size header inside the current message (veth's peer ifinfomsg). */
void *nl_put_header(struct nl_request *r, size_t size);
struct nlattr *nl_nest_start(struct nl_request *r, uint16_t type);
void nl_nest_end(struct nl_request *r, struct nlattr *nest);

/** Sends every message of r and waits until each is answered. reply() sees the answers
 *  that are not acks (a GETLINK's link, a dump's routes). Returns the first failure,
 *  with the message's `what` and the kernel's explanation in err. */
int nl_request_run(struct nl_socket *s, struct nl_request *r,
                   int (*reply)(const struct nlmsghdr *nlh, void *data), void *data, struct nb_error *err);

/** A veth pair to create; zero (or NULL, or a negative fd) leaves a field to the kernel. */
struct nl_veth {
        const char *name, *peer;
        unsigned mtu;            /* both ends */
        int master;              /* ifindex of the bridge `name` joins */
        const uint8_t *peer_mac; /* 6 bytes */
        int peer_netns_fd;       /* where `peer` is created */
};

/** Creates the pair (NLM_F_EXCL: an existing `name` fails), `what` naming it in errors. */
int nl_veth_create(struct nl_socket *s, const struct nl_veth *v, const char *what, struct nb_error *err);

/* ---- net-host.c ------------------------------------------------------------ */

#define NET_BRIDGE "nestbox0"
#define NET_DEFAULT_MTU 1500u
/* Host numbers 0 (network) and 1 (the bridge, the sandboxes' gateway) are taken. */
#define NET_FIRST_HOST 2u

struct net_subnet {
        uint32_t network; /* host byte order */
        unsigned prefix;
};

/* The host side as net_host_setup() left it; read-only afterwards (shared by threads). */
struct net_host {
        bool enabled; /* sandboxes get eth0; false: loopback only */
        struct net_subnet subnet;
        uint32_t gateway; /* the bridge's address: network + 1 */
        int bridge_index;
        unsigned mtu; /* of the device behind the host's default route */
};

/** Parses "a.b.c.d/n" (IPv4, host bits zero, /8 to /20: room for every uid slot). */
int net_subnet_parse(const char *text, struct net_subnet *ret, struct nb_error *err);
bool net_subnet_overlaps(const struct net_subnet *a, uint32_t network, unsigned prefix);

/** Sets up the host for sandboxes' outbound traffic (idempotent): the bridge with the
 *  subnet's first address, net.ipv4.ip_forward, the `inet nestbox` nftables table, whose
 *  only exceptions are DNS (port 53) to the nameservers in dns.
 *  Returns 0 with h->enabled set; < 0 when it cannot. *ret_fatal tells a configuration
 *  error (a bad or colliding subnet: serve must not start) from a host that lacks the
 *  means (no bridge, veth or nf_tables support, no rights: serve goes on, loopback only). */
struct net_dns;
int net_host_setup(struct net_host *h, const char *subnet, const struct net_dns *dns, bool *ret_fatal,
                   struct nb_error *err);

/* ---- net-nft.c ------------------------------------------------------------- */

/** The text of the `inet nestbox` table, as one replace-everything transaction. Returns
 *  the length, or -ENOBUFS when it does not fit. */
int net_nft_ruleset(char *buf, size_t size, const uint32_t *dns, size_t n_dns);
/** Runs the ruleset through libnftables (one atomic transaction). */
int net_nft_apply(const char *ruleset, struct nb_error *err);
/** Runs nft commands as one transaction; err says "cannot <what>: <nft's first line>".
 *  -EPERM, -EOPNOTSUPP, -ENOENT (no such table, chain or device), else -EIO. */
int net_nft_run(const char *commands, const char *what, struct nb_error *err);

/** Runs one nft listing command and parses its JSON output into *ret (to json_decref). */
typedef struct json_t json_t;
int net_nft_list_json(const char *command, json_t **ret, struct nb_error *err);

/* ---- net-nft-foreign.c ------------------------------------------------------ */

#define NET_NFT_TABLE "nestbox" /* our table, in family inet */
#define NET_NFT_NAME_MAX 64
struct net_nft_chain {
        char family[8];
        char table[NET_NFT_NAME_MAX + 1];
        char chain[NET_NFT_NAME_MAX + 1];
};
/** From `list chains` JSON: the chains sandboxes' traffic must be let through (ip and inet
 *  forward chains of other tables whose policy drops; a table's DOCKER-USER when it has
 *  one), at most max. */
size_t net_nft_foreign_targets(json_t *chains, struct net_nft_chain *out, size_t max);
/** The nft commands for c, given its rules as `list chain` JSON: delete our old rules
 *  there, insert the two accepts for bridge. Malloc'ed into *ret; -ENOMEM. */
int net_nft_foreign_text(const struct net_nft_chain *c, json_t *rules, const char *bridge, char **ret);
/** Lets sandboxes' traffic through every such chain on the host (see the file's comment). */
int net_nft_open_foreign_forward(const char *bridge, struct nb_error *err);

/* ---- net-egress.c ---------------------------------------------------------- */

/** Sorts ranges and merges those that overlap or touch, in place; returns how many are left. */
size_t net_ranges_merge(struct runtime_ip_range *r, size_t n);
/** The nft commands that give sandbox `id` the chain for e (e->n_deny > 0), replacing any
 *  it had, hooked at ingress of its veth's host end (which must exist). Malloc'ed. */
int net_egress_text(const char *id, const struct runtime_egress *e, char **ret);
int net_egress_set(const char *id, const struct runtime_egress *e, struct nb_error *err);
/** Deletes the sandbox's chain; 0 when it has none. */
int net_egress_remove(const char *id, struct nb_error *err);

/* ---- net-sandbox.c --------------------------------------------------------- */

/** "nb" + the first 13 characters of the id: unique on the host even when several
 *  daemons share it (ids are random), and found again from the id alone. */
void net_link_name(char ret[IF_NAMESIZE], const char *id);
/** The sandbox's address: host number NET_FIRST_HOST + index of the subnet. */
int net_sandbox_address(const struct net_subnet *s, uint32_t index, uint32_t *ret, struct nb_error *err);
/** Its MAC: 02:6e + the address, so the host's permanent ARP entry for an address is
 *  right for whichever sandbox holds it. */
void net_sandbox_mac(uint32_t address, uint8_t ret[6]);

/** Creates the sandbox's veth pair (host end `nb…` on the bridge, isolated; eth0 inside
 *  netns_fd) and configures eth0: address, default route through the bridge. */
int net_sandbox_attach(const struct net_host *h, const char *id, uint32_t index, int netns_fd,
                       struct nb_error *err);
/** The same, with the egress rules e (when it has denied ranges) in place before the
 *  pair comes up. */
int net_sandbox_attach_egress(const struct net_host *h, const char *id, uint32_t index, int netns_fd,
                              const struct runtime_egress *e, struct nb_error *err);
enum { NET_LINK_NONE, NET_LINK_DOWN, NET_LINK_UP };
/** Whether the sandbox has a pair and its host end is up: NET_LINK_*, or -errno. */
int net_sandbox_link_state(const char *id);
/** Brings a pair that net_sandbox_cut() took down up again, eth0's route with it. */
int net_sandbox_reconnect(const struct net_host *h, const char *id, uint32_t index, int netns_fd,
                          struct nb_error *err);
/** Takes both ends of the sandbox's pair down: nothing passes, and with eth0 down the
 *  sandbox has no route at all. 0 when there is no pair. */
int net_sandbox_cut(const char *id, int netns_fd, struct nb_error *err);
/** Deletes the host end of the sandbox's pair, which takes eth0 with it (~25 ms: for
 *  leftovers only). 0 when there is none. */
int net_sandbox_detach(const char *id, struct nb_error *err);

/* ---- net-etc.c ------------------------------------------------------------- */

#define NET_DNS_MAX 3 /* glibc reads three nameservers */

/* Nameservers sandboxes use, read from the host once when serve starts. */
struct net_dns {
        uint32_t servers[NET_DNS_MAX]; /* IPv4, host byte order */
        size_t n;
        char search[256];   /* the host's "search"/"domain" line, or "" */
        char options[256];  /* its "options" line, or "" */
        const char *source; /* the file they came from */
};

/** Parses resolv.conf text: IPv4 nameservers that are not loopback (a sandbox cannot
 *  reach the host's 127.0.0.53), search and options. */
void net_dns_parse(const char *text, struct net_dns *ret);
/** Reads the host's: /etc/resolv.conf, or systemd-resolved's upstream list when that
 *  one names only loopback resolvers. ret->n == 0 when nothing is usable. */
void net_dns_read_host(const char *etc_path, const char *resolved_path, struct net_dns *ret);
int net_resolv_conf_text(const struct net_dns *dns, char *buf, size_t size);
int net_hosts_text(const char *hostname, char *buf, size_t size);
/** Writes etc/resolv.conf and etc/hosts into the sandbox's upper dir (upper_fd), owned by
 *  its root (uid_base); etc/ gets the mode and owner of the template's own /etc. */
int net_etc_write(int upper_fd, const char *const *layers, uint32_t uid_base, const char *hostname,
                  const struct net_dns *dns, struct nb_error *err);

/* ---- net.c: what runtime.c calls ------------------------------------------ */

struct sandbox_spec;

struct runtime_net {
        bool configured; /* runtime_config.subnet was given: /etc files */
        struct net_host host;
        struct net_dns dns;
};

/** From runtime_config.subnet (NULL: nothing; "none": /etc files only). Logs one warning
 *  when the host cannot give sandboxes a network (they get loopback only) and when it has
 *  no nameserver for them. Fails only on a configuration error (bad or colliding subnet). */
int runtime_net_init(struct runtime_net *n, const char *subnet, struct nb_error *err);
/** Before the overlay is mounted: the sandbox's /etc/resolv.conf and /etc/hosts. */
int runtime_net_prepare(const struct runtime_net *n, const struct sandbox_spec *spec, int upper_fd,
                        struct nb_error *err);
/** After its pid 1 exists: the veth pair, when the spec asks and the host has a network. */
int runtime_net_attach(const struct runtime_net *n, const struct sandbox_spec *spec, int netns_fd,
                       struct nb_error *err);
/** Whether runtime_net_attach() will do anything for spec (the caller then opens the netns). */
bool runtime_net_wanted(const struct runtime_net *n, const struct sandbox_spec *spec);
/** Cuts the sandbox off (net_sandbox_cut), if it has a pair. */
int runtime_net_cut(const struct runtime_net *n, const char *id, int netns_fd, struct nb_error *err);
/** Deletes a dead sandbox's pair by name, if something kept it, and its egress rules;
 *  logs failures ", ignoring". */
void runtime_net_remove_leftover(const struct runtime_net *n, const char *id);
/** Deletes the sandbox's egress rules, if any; logs failures ", ignoring". */
void runtime_net_remove_egress(const struct runtime_net *n, const char *id);
/** runtime_sandbox_set_network() for the sandbox `id`; netns_fd >= 0 asks for a way out
 *  (-EBADF: leave a sandbox without one so). Returns 1 when the sandbox has egress rules
 *  now, 0 when none. */
int runtime_net_set(const struct runtime_net *n, const char *id, uint32_t index, int netns_fd,
                    const struct runtime_egress *e, struct nb_error *err);
