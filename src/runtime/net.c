/* The runtime's network as runtime.c uses it: host set-up at runtime_new(), each
 * sandbox's /etc files and veth pair at create, the veth's removal at teardown.
 * The pieces are in net-host.c, net-sandbox.c and net-etc.c. */
#include <errno.h>
#include <string.h>

#include "../base/log.h"
#include "net-internal.h"
#include "runtime.h"

#define HOST_RESOLV_CONF "/etc/resolv.conf"
#define RESOLVED_RESOLV_CONF "/run/systemd/resolve/resolv.conf"

int runtime_net_init(struct runtime_net *n, const char *subnet, struct nb_error *err)
{
        struct nb_error why = {0};
        bool fatal = false;
        int r;

        *n = (struct runtime_net){0};
        if (!subnet)
                return 0;
        n->configured = true;
        net_dns_read_host(HOST_RESOLV_CONF, RESOLVED_RESOLV_CONF, &n->dns);
        if (strcmp(subnet, "none") == 0) {
                log_info("network: --subnet none: sandboxes get a loopback interface only");
                return 0;
        }
        r = net_host_setup(&n->host, subnet, &n->dns, &fatal, &why);
        if (r < 0) {
                if (fatal)
                        return nb_error_set(err, r, "%s", why.message);
                log_warning("network: sandboxes get a loopback interface only (outbound traffic needs "
                            "CAP_NET_ADMIN "
                            "and a kernel with bridge, veth and nf_tables support): %s",
                            why.message);
                return 0;
        }
        if (n->dns.n == 0)
                log_warning("network: sandboxes will have no DNS: %s lists no nameserver they can reach (a "
                            "resolver "
                            "on the host's loopback is out of their reach; name an upstream server there)",
                            n->dns.source ? n->dns.source : HOST_RESOLV_CONF);
        log_debug("network: sandboxes on bridge %s, mtu %u, %zu nameserver(s) from %s", NET_BRIDGE,
                  n->host.mtu, n->dns.n, n->dns.source ? n->dns.source : "nowhere");
        return 0;
}

int runtime_net_prepare(const struct runtime_net *n, const struct sandbox_spec *spec, int upper_fd,
                        struct nb_error *err)
{
        if (!n->configured)
                return 0;
        return net_etc_write(upper_fd, spec->layers, spec->uid_base, spec->hostname, &n->dns, err);
}

bool runtime_net_wanted(const struct runtime_net *n, const struct sandbox_spec *spec)
{
        return n->host.enabled && spec->network;
}

int runtime_net_attach(const struct runtime_net *n, const struct sandbox_spec *spec, int netns_fd,
                       struct nb_error *err)
{
        if (!runtime_net_wanted(n, spec))
                return 0;
        return net_sandbox_attach(&n->host, spec->id, spec->net_index, netns_fd, err);
}

int runtime_net_cut(const struct runtime_net *n, const char *id, int netns_fd, struct nb_error *err)
{
        /* Without a network this daemon made no veth, and may lack the rights to ask. */
        if (!n->host.enabled)
                return 0;
        return net_sandbox_cut(id, netns_fd, err);
}

int runtime_net_set(const struct runtime_net *n, const char *id, uint32_t index, int netns_fd,
                    const struct runtime_egress *e, struct nb_error *err)
{
        bool rules = e && e->n_deny > 0;
        int state, r;

        if (!n->host.enabled)
                return 0;
        state = net_sandbox_link_state(id);
        if (state < 0)
                return nb_error_set_errno(err, state, "cannot tell whether the sandbox's link is up");
        if (state == NET_LINK_UP || (state == NET_LINK_DOWN && netns_fd >= 0)) {
                /* Rules first: a pair brought up again carries nothing they would refuse. */
                r = rules ? net_egress_set(id, e, err) : net_egress_remove(id, err);
                if (r >= 0 && state == NET_LINK_DOWN)
                        r = net_sandbox_reconnect(&n->host, id, index, netns_fd, err);
                return r < 0 ? r : rules;
        }
        /* No way out (nothing passes, rules would be moot), and none is wanted, or there is
         * no pair yet: one is made, its rules in place before it comes up. */
        r = net_egress_remove(id, err);
        if (r < 0 || netns_fd < 0)
                return r;
        r = net_sandbox_attach_egress(&n->host, id, index, netns_fd, e, err);
        return r < 0 ? r : rules;
}

void runtime_net_remove_leftover(const struct runtime_net *n, const char *id)
{
        struct nb_error err = {0};

        /* The pair dies with the sandbox's namespace, unless something still holds that
         * (an fd, a process that escaped the kill): then it goes by name. */
        if (!n->host.enabled)
                return;
        if (net_sandbox_detach(id, &err) < 0)
                log_warning("sandbox=%s: %s, ignoring", id, err.message);
        runtime_net_remove_egress(n, id);
}

void runtime_net_remove_egress(const struct runtime_net *n, const char *id)
{
        struct nb_error err = {0};

        if (n->host.enabled && net_egress_remove(id, &err) < 0)
                log_warning("sandbox=%s: %s, ignoring", id, err.message);
}
