/* A sandbox's egress policy, read from E2B's network config (create's `network` and
 * `allow_internet_access`, or the body of PUT /sandboxes/{id}/network): what the API
 * checks before anything starts and what the manager hands the runtime. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../base/error.h"
#include "../runtime/runtime.h"

#define EGRESS_ENTRIES_MAX 1000 /* per list */

struct egress_policy {
        struct runtime_ip_range *allow; /* allowOut */
        size_t n_allow;
        struct runtime_ip_range *deny; /* denyOut, plus 0.0.0.0/0 when internet access is off */
        size_t n_deny;
        bool cut; /* internet access off and nothing allowed: no way out at all */
};

/** Reads allowOut and denyOut (IPv4 CIDR blocks and addresses) from network (an object or
 *  NULL) and allow_internet_access (-1 unset, 0, 1). Whatever nestbox does not enforce is
 *  refused, never stored and ignored: domain names, IPv6, egressProxy, rules, httpsPorts,
 *  maskRequestHost. -EINVAL with a message for the client; -ENOMEM. */
int egress_policy_parse(const json_t *network, int allow_internet_access, struct egress_policy *ret,
                        struct nb_error *err);
/** The same from stored JSON text (NULL: no network config). */
int egress_policy_parse_text(const char *network_json, int allow_internet_access, struct egress_policy *ret,
                             struct nb_error *err);
void egress_policy_done(struct egress_policy *p);

/** The policy as the runtime takes it. */
static inline struct runtime_egress egress_policy_runtime(const struct egress_policy *p)
{
        return (struct runtime_egress){p->allow, p->n_allow, p->deny, p->n_deny};
}
