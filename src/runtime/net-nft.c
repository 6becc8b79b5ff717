/* The one nftables table nestbox owns, `inet nestbox`, written as ruleset text and
 * loaded with libnftables in one transaction: the table is created if missing, deleted
 * and defined again, so a restart (or a second daemon on the host) replaces it whole
 * and never touches anyone else's tables.
 *
 * Rules match the bridge by name, not the subnet, so they hold for every subnet a
 * daemon on this host gave the bridge. What they do (docs/ARCHITECTURE.md, "Network"):
 *   input:       nothing from the bridge reaches the host itself, on any of its
 *                addresses (only DNS to a listed nameserver, should it be the host's);
 *   forward:     out of a sandbox: not to another sandbox (ports are isolated at layer 2
 *                too), not over IPv6, not to link-local 169.254.0.0/16 (cloud metadata);
 *                into a sandbox: only replies (established, related);
 *   postrouting: what leaves through any other interface is masqueraded.
 * Forwarded traffic is refused rather than dropped, so a program in a sandbox probing the
 * metadata address fails at once instead of waiting for a timeout: TCP with a reset
 * (ICMP errors are rate-limited per destination, a reset is not), the rest with ICMP
 * admin-prohibited. Traffic to the host is dropped: nothing answers on its behalf. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include <nftables/libnftables.h>

#include "net-internal.h"

struct text {
        char *buf;
        size_t size, len;
        bool overflow;
};

_printf_(2, 3) static void text_add(struct text *t, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (t->overflow)
                return;
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= t->size - t->len)
                t->overflow = true;
        else
                t->len += (size_t)n;
}

int net_nft_ruleset(char *buf, size_t size, const uint32_t *dns, size_t n_dns)
{
        struct text t = {.buf = buf, .size = size};
        const char *br = NET_BRIDGE;

        if (size == 0)
                return -ENOBUFS;
        buf[0] = 0;
        text_add(&t, "table inet nestbox\n"
                     "delete table inet nestbox\n"
                     "table inet nestbox {\n"
                     "\tset dns {\n"
                     "\t\ttype ipv4_addr\n");
        for (size_t i = 0; i < n_dns; i++) {
                char a[INET_ADDRSTRLEN];
                struct in_addr in = {.s_addr = htonl(dns[i])};

                inet_ntop(AF_INET, &in, a, sizeof(a));
                text_add(&t, "%s%s", i == 0 ? "\t\telements = { " : ", ", a);
                if (i + 1 == n_dns)
                        text_add(&t, " }\n");
        }
        text_add(&t, "\t}\n");
        text_add(&t,
                 "\tchain input {\n"
                 "\t\ttype filter hook input priority filter; policy accept;\n"
                 "\t\tiifname \"%s\" ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept\n"
                 "\t\tiifname \"%s\" drop\n"
                 "\t}\n",
                 br, br);
        text_add(&t,
                 "\tchain forward {\n"
                 "\t\ttype filter hook forward priority filter; policy accept;\n"
                 "\t\tiifname \"%s\" jump from_sandbox\n"
                 "\t\toifname \"%s\" jump to_sandbox\n"
                 "\t}\n",
                 br, br);
        text_add(&t,
                 "\tchain from_sandbox {\n"
                 "\t\toifname \"%s\" jump refuse\n"
                 "\t\tmeta nfproto ipv6 jump refuse\n"
                 "\t\tip daddr @dns meta l4proto { tcp, udp } th dport 53 accept\n"
                 "\t\tip daddr 169.254.0.0/16 jump refuse\n"
                 "\t}\n"
                 "\tchain refuse {\n"
                 "\t\tmeta l4proto tcp reject with tcp reset\n"
                 "\t\treject with icmpx admin-prohibited\n"
                 "\t}\n",
                 br);
        text_add(&t, "\tchain to_sandbox {\n"
                     "\t\tct state established,related accept\n"
                     "\t\tdrop\n"
                     "\t}\n");
        text_add(&t,
                 "\tchain postrouting {\n"
                 "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
                 "\t\tiifname \"%s\" oifname != \"%s\" masquerade\n"
                 "\t}\n"
                 "}\n",
                 br, br);
        if (t.overflow)
                return -ENOBUFS;
        return (int)t.len;
}

/* One libnftables context for the process, kept: freeing one costs 8-15 ms here (the
 * kernel's release of its netlink socket), more than the transaction itself (~0.3 ms),
 * and creates would pay it for every sandbox with egress rules. libnftables checks the
 * ruleset's generation before it trusts its cache, so changes made by others (other
 * daemons, an admin's nft) are seen. The lock serialises its users. Its netlink socket
 * stays in the network namespace of the first caller: only threads in the daemon's own
 * namespace call this (the short threads that enter a sandbox's never do). */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nft_ctx *nft_shared;

/* With nft_lock held. */
static int nft_ctx_get(struct nb_error *err)
{
        if (!nft_shared) {
                nft_shared = nft_ctx_new(NFT_CTX_DEFAULT);
                if (!nft_shared)
                        return nb_error_set(err, -ENOMEM, "cannot start libnftables");
                if (nft_ctx_buffer_output(nft_shared) < 0 || nft_ctx_buffer_error(nft_shared) < 0) {
                        nft_ctx_free(nft_shared);
                        nft_shared = NULL;
                        return nb_error_oom(err);
                }
        }
        return 0;
}

/* With nft_lock held: runs commands; on failure err says why. Reading a buffer empties
 * it: nothing carries over to the next run. */
static int nft_run_locked(const char *commands, const char *what, struct nb_error *err)
{
        const char *text;
        char first[160];
        int r = 0;

        if (nft_run_cmd_from_buffer(nft_shared, commands) != 0) {
                /* libnftables gives text, not errno: keep its first line, which names the cause
                 * ("Could not process rule: Operation not supported"). */
                text = nft_ctx_get_error_buffer(nft_shared);
                snprintf(first, sizeof(first), "%s", text && text[0] ? text : "unknown error");
                first[strcspn(first, "\n")] = 0;
                r = strstr(first, "not permitted")               ? -EPERM
                    : strstr(first, "not supported")             ? -EOPNOTSUPP
                    : strstr(first, "No such file or directory") ? -ENOENT
                                                                 : -EIO;
                nb_error_set(err, r, "cannot %s: %s", what, first);
        }
        (void)nft_ctx_get_error_buffer(nft_shared);
        return r;
}

int net_nft_run(const char *commands, const char *what, struct nb_error *err)
{
        int r;

        pthread_mutex_lock(&nft_lock);
        r = nft_ctx_get(err);
        if (r >= 0) {
                r = nft_run_locked(commands, what, err);
                (void)nft_ctx_get_output_buffer(nft_shared);
        }
        pthread_mutex_unlock(&nft_lock);
        return r;
}

int net_nft_list_json(const char *command, json_t **ret, struct nb_error *err)
{
        json_error_t jerr;
        unsigned flags;
        int r;

        *ret = NULL;
        pthread_mutex_lock(&nft_lock);
        r = nft_ctx_get(err);
        if (r >= 0) {
                flags = nft_ctx_output_get_flags(nft_shared);
                nft_ctx_output_set_flags(nft_shared, flags | NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
                r = nft_run_locked(command, "list the host's nftables chains", err);
                nft_ctx_output_set_flags(nft_shared, flags);
                if (r >= 0) {
                        *ret = json_loads(nft_ctx_get_output_buffer(nft_shared), 0, &jerr);
                        if (!*ret)
                                r = nb_error_set(err, -EBADMSG, "cannot read nft's JSON (%s): %s", command, jerr.text);
                } else
                        (void)nft_ctx_get_output_buffer(nft_shared);
        }
        pthread_mutex_unlock(&nft_lock);
        return r;
}

int net_nft_apply(const char *ruleset, struct nb_error *err)
{
        return net_nft_run(ruleset, "load the nftables table inet nestbox", err);
}
