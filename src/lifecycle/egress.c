/* E2B's egress settings as nestbox enforces them (see egress.h). E2B's semantics: an
 * allowOut entry wins over a denyOut one; allow_internet_access false is denyOut
 * 0.0.0.0/0; allowOut alone restricts nothing. nestbox enforces addresses, in the
 * kernel, so an entry that is not an IPv4 address or CIDR block is refused with a
 * message saying what to send instead: storing a rule and not enforcing it would let a
 * sandbox reach what its owner believes blocked. */
#include "egress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Letters, digits, dots, hyphens and a leading "*.": what E2B takes as a domain name. */
static bool looks_like_domain(const char *s)
{
        bool letter = false;

        if (strncmp(s, "*.", 2) == 0)
                return true;
        for (const char *p = s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
                        letter = true;
                else if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
                        return false;
        }
        return letter;
}

static int parse_list(const json_t *network, const char *field, bool deny, struct runtime_ip_range **ret,
                      size_t *ret_n, size_t extra, struct nb_error *err)
{
        const json_t *list = json_object_get(network, field);
        struct runtime_ip_range *r;
        size_t n;

        *ret = NULL;
        *ret_n = 0;
        if (list && !json_is_null(list) && !json_is_array(list))
                return nb_error_set(
                        err, -EINVAL,
                        "'network.%s' must be an array of strings (IPv4 CIDR blocks or addresses)", field);
        n = json_array_size(list);
        if (n > EGRESS_ENTRIES_MAX)
                return nb_error_set(err, -EINVAL, "'network.%s' has %zu entries; nestbox takes at most %d",
                                    field, n, EGRESS_ENTRIES_MAX);
        if (n + extra == 0)
                return 0;
        r = calloc(n + extra, sizeof(*r));
        if (!r)
                return nb_error_oom(err);
        for (size_t i = 0; i < n; i++) {
                const char *text = json_string_value(json_array_get(list, i));
                int k;

                if (!text) {
                        free(r);
                        return nb_error_set(
                                err, -EINVAL,
                                "'network.%s' must be an array of strings (IPv4 CIDR blocks or addresses)",
                                field);
                }
                k = runtime_ip_range_parse(text, &r[i]);
                if (k >= 0)
                        continue;
                free(r);
                if (k == -EAFNOSUPPORT)
                        return nb_error_set(
                                err, -EINVAL,
                                "network.%s entry '%.128s' is IPv6: sandboxes have IPv4 only (their "
                                "IPv6 traffic is always refused); list IPv4 addresses or CIDR blocks",
                                field, text);
                if (looks_like_domain(text) && deny)
                        return nb_error_set(
                                err, -EINVAL,
                                "network.%s entry '%.128s' is a domain name: deny rules take CIDR "
                                "blocks or IP addresses only (e.g. '8.8.8.0/24' or '8.8.8.8')",
                                field, text);
                if (looks_like_domain(text))
                        return nb_error_set(
                                err, -EINVAL,
                                "network.%s entry '%.128s' is a domain name: nestbox enforces egress "
                                "rules by CIDR block or IP address only; list the addresses the name "
                                "resolves to instead (e.g. '93.184.215.14' or '93.184.215.0/24')",
                                field, text);
                return nb_error_set(err, -EINVAL,
                                    "network.%s entry '%.128s' is not an IPv4 CIDR block or address (e.g. "
                                    "'8.8.8.0/24' or '8.8.8.8')",
                                    field, text);
        }
        *ret = r;
        *ret_n = n;
        return 0;
}

/* Set and not empty: null, "", [] and {} count as not set. */
static bool field_set(const json_t *network, const char *field)
{
        const json_t *v = json_object_get(network, field);

        if (!v || json_is_null(v))
                return false;
        if (json_is_string(v))
                return json_string_length(v) > 0;
        if (json_is_array(v))
                return json_array_size(v) > 0;
        if (json_is_object(v))
                return json_object_size(v) > 0 || strcmp(field, "egressProxy") == 0;
        return true;
}

int egress_policy_parse(const json_t *network, int allow_internet_access, struct egress_policy *ret,
                        struct nb_error *err)
{
        static const struct {
                const char *field, *why;
        } unsupported[] = {
                {"egressProxy",
                 "outbound traffic leaves through the host's own NAT; a SOCKS5 proxy would be "
                 "yours to run"},
                {"rules", "nestbox does not rewrite outbound HTTPS requests"},
                {"httpsPorts", "ports are reached over plain HTTP inside the host"},
                {"maskRequestHost",
                 "requests reach a sandbox's port with the Host header they were sent with"},
        };
        struct egress_policy p = {0};
        bool no_internet = allow_internet_access == 0;
        int r;

        if (network && !json_is_object(network))
                return nb_error_set(err, -EINVAL, "'network' must be an object");
        for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
                if (field_set(network, unsupported[i].field))
                        return nb_error_set(err, -EINVAL,
                                            "network.%s is not supported by nestbox (%s); leave it out",
                                            unsupported[i].field, unsupported[i].why);
        r = parse_list(network, "allowOut", false, &p.allow, &p.n_allow, 0, err);
        if (r < 0)
                return r;
        r = parse_list(network, "denyOut", true, &p.deny, &p.n_deny, no_internet ? 1 : 0, err);
        if (r < 0) {
                egress_policy_done(&p);
                return r;
        }
        if (no_internet)
                p.deny[p.n_deny++] = (struct runtime_ip_range){0, UINT32_MAX};
        p.cut = no_internet && p.n_allow == 0;
        *ret = p;
        return 0;
}

int egress_policy_parse_text(const char *network_json, int allow_internet_access, struct egress_policy *ret,
                             struct nb_error *err)
{
        json_t *network = NULL;
        int r;

        if (network_json) {
                network = json_loads(network_json, 0, NULL);
                if (!network)
                        return nb_error_set(err, -EINVAL, "the stored network config is not JSON");
        }
        r = egress_policy_parse(network, allow_internet_access, ret, err);
        json_decref(network);
        return r;
}

void egress_policy_done(struct egress_policy *p)
{
        free(p->allow);
        free(p->deny);
        *p = (struct egress_policy){0};
}
