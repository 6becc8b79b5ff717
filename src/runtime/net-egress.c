/* Per-sandbox egress rules (E2B's network.allowOut / denyOut), enforced on the host end
 * of the sandbox's veth pair: a base chain `sandbox_<id>` hooked at ingress of that device
 * in the table `netdev nestbox`. Rules there see exactly what the sandbox sends, before
 * the bridge, whatever source address it forges (the inet table's forward chain sees
 * every sandbox as nestbox0, by address only), and they are found again from the id
 * alone: a daemon that restarts, or cleans up after a dead sandbox, needs nothing else.
 *
 * That table is separate from `inet nestbox` on purpose: every daemon start replaces the
 * inet table whole, which would drop the rules of every running sandbox on the host
 * (other daemons' too). Nothing ever deletes `netdev nestbox` itself; each sandbox's
 * chain is added, replaced and deleted on its own, in one transaction each.
 *
 * The chain: destinations in the allowed ranges are accepted (and go on to the inet
 * table's rules, so allowOut never opens another sandbox, the host or 169.254/16);
 * those in the denied ranges are refused, TCP with a reset and the rest with ICMP
 * admin-prohibited, so programs fail at once. Ranges are sorted and merged first: an
 * nftables set takes no overlapping intervals, and a set is one lookup per packet
 * however long the list. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/buf.h"
#include "net-internal.h"

#define EGRESS_TABLE "netdev nestbox"

int runtime_ip_range_parse(const char *text, struct runtime_ip_range *ret)
{
        char addr[INET6_ADDRSTRLEN + 1];
        unsigned char in6[16];
        const char *slash;
        unsigned prefix = 32;
        struct in_addr in;
        size_t len;
        uint32_t a, mask;

        if (!text)
                return -EINVAL;
        slash = strchr(text, '/');
        len = slash ? (size_t)(slash - text) : strlen(text);
        if (len == 0 || len >= sizeof(addr))
                return -EINVAL;
        memcpy(addr, text, len);
        addr[len] = 0;
        if (slash) {
                const char *p = slash + 1;

                /* One to three digits, no sign, no spaces: strtoul would take " +8". */
                if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 3)
                        return -EINVAL;
                prefix = (unsigned)atoi(p);
        }
        if (inet_pton(AF_INET, addr, &in) != 1)
                return inet_pton(AF_INET6, addr, in6) == 1 && (!slash || prefix <= 128) ? -EAFNOSUPPORT
                                                                                        : -EINVAL;
        if (prefix > 32)
                return -EINVAL;
        mask = prefix == 0 ? 0 : ~UINT32_C(0) << (32 - prefix);
        a = ntohl(in.s_addr) & mask;
        *ret = (struct runtime_ip_range){.first = a, .last = a | ~mask};
        return 0;
}

static int range_compare(const void *x, const void *y)
{
        const struct runtime_ip_range *a = x, *b = y;

        if (a->first != b->first)
                return a->first < b->first ? -1 : 1;
        return a->last < b->last ? -1 : a->last > b->last;
}

size_t net_ranges_merge(struct runtime_ip_range *r, size_t n)
{
        size_t out = 0;

        if (n == 0)
                return 0;
        qsort(r, n, sizeof(*r), range_compare);
        for (size_t i = 1; i < n; i++) {
                struct runtime_ip_range *last = &r[out];

                /* Overlapping or adjacent (careful at 255.255.255.255). */
                if (last->last == UINT32_MAX || r[i].first <= last->last + 1) {
                        if (r[i].last > last->last)
                                last->last = r[i].last;
                } else
                        r[++out] = r[i];
        }
        return out + 1;
}

static void address_text(uint32_t a, char ret[INET_ADDRSTRLEN])
{
        struct in_addr in = {.s_addr = htonl(a)};

        inet_ntop(AF_INET, &in, ret, INET_ADDRSTRLEN);
}

/* The prefix length when r is exactly one CIDR block, else -1. */
static int range_prefix(const struct runtime_ip_range *r)
{
        uint64_t size = (uint64_t)r->last - r->first + 1;
        unsigned bits = 0;

        while (bits < 32 && (UINT64_C(1) << bits) < size)
                bits++;
        if ((UINT64_C(1) << bits) != size || (bits < 32 && (r->first & ((UINT32_C(1) << bits) - 1))))
                return -1;
        return 32 - (int)bits;
}

/* "{ a, b/n, c-d, ... }" of the merged copy of ranges. */
static int set_text(struct buf *b, const struct runtime_ip_range *ranges, size_t n)
{
        _cleanup_free_ struct runtime_ip_range *r = NULL;
        int err = 0;

        r = malloc(n * sizeof(*r));
        if (!r)
                return -ENOMEM;
        memcpy(r, ranges, n * sizeof(*r));
        n = net_ranges_merge(r, n);
        err = buf_printf(b, "{ ");
        for (size_t i = 0; i < n && err >= 0; i++) {
                char first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];

                address_text(r[i].first, first);
                address_text(r[i].last, last);
                int prefix = range_prefix(&r[i]);

                if (prefix == 32)
                        err = buf_printf(b, "%s%s", i ? ", " : "", first);
                else if (prefix >= 0)
                        err = buf_printf(b, "%s%s/%d", i ? ", " : "", first, prefix);
                else
                        err = buf_printf(b, "%s%s-%s", i ? ", " : "", first, last);
        }
        return err < 0 ? err : buf_printf(b, " }");
}

int net_egress_text(const char *id, const struct runtime_egress *e, char **ret)
{
        struct buf b = {0};
        char link[IF_NAMESIZE];
        int r;

        net_link_name(link, id);
        /* Adding the chain before deleting it makes the delete safe when there is none; the
         * chain is made anew rather than flushed so its hook is bound to the device as it
         * is now (a pair made again after a cut is a new device). */
        r = buf_printf(
                &b,
                "add table " EGRESS_TABLE "\n"
                "add chain " EGRESS_TABLE " sandbox_%s { type filter hook ingress device \"%s\" priority "
                "filter; policy accept; }\n"
                "delete chain " EGRESS_TABLE " sandbox_%s\n"
                "add chain " EGRESS_TABLE " sandbox_%s { type filter hook ingress device \"%s\" priority "
                "filter; policy accept; }\n",
                id, link, id, id, link);
        if (r >= 0 && e->n_allow > 0) {
                r = buf_printf(&b, "add rule " EGRESS_TABLE " sandbox_%s ip daddr ", id);
                if (r >= 0)
                        r = set_text(&b, e->allow, e->n_allow);
                if (r >= 0)
                        r = buf_printf(&b, " accept\n");
        }
        for (int tcp = 1; tcp >= 0 && r >= 0; tcp--) {
                r = buf_printf(&b, "add rule " EGRESS_TABLE " sandbox_%s ip daddr ", id);
                if (r >= 0)
                        r = set_text(&b, e->deny, e->n_deny);
                if (r >= 0)
                        r = buf_printf(&b, tcp ? " meta l4proto tcp reject with tcp reset\n"
                                               : " reject with icmpx admin-prohibited\n");
        }
        if (r < 0) {
                buf_done(&b);
                return r;
        }
        *ret = (char *)b.data;
        return 0;
}

int net_egress_set(const char *id, const struct runtime_egress *e, struct nb_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = net_egress_text(id, e, &text);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot write the sandbox's egress rules");
        return net_nft_run(text, "load the sandbox's egress rules", err);
}

int net_egress_remove(const char *id, struct nb_error *err)
{
        char text[128];
        int r;

        snprintf(text, sizeof(text), "delete chain " EGRESS_TABLE " sandbox_%s\n", id);
        r = net_nft_run(text, "remove the sandbox's egress rules", err);
        /* No table or no chain: nothing to remove (a kernel may drop a device's chain with it). */
        return r == -ENOENT ? 0 : r;
}
