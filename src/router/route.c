/* route_classify: the header rules of E2B's proxy, with strict validation so a
 * hostile header can never name a path or a foreign id. */
#include "route.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool valid_id(const char *s, size_t n)
{
        if (n == 0 || n > ROUTE_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

static bool parse_port(const char *s, size_t n, unsigned *ret)
{
        unsigned v = 0;

        if (n == 0 || n > 5)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v == 0 || v > 65535)
                return false;
        *ret = v;
        return true;
}

void route_classify(const char *sandbox_id_header, const char *sandbox_port_header, const char *host,
                    struct route *ret)
{
        *ret = (struct route){.kind = ROUTE_API};

        if (sandbox_id_header || sandbox_port_header) {
                if (!sandbox_id_header || !sandbox_port_header) {
                        ret->kind = ROUTE_INVALID;
                        ret->message = "both E2b-Sandbox-Id and E2b-Sandbox-Port headers are required";
                        return;
                }
                if (!valid_id(sandbox_id_header, strlen(sandbox_id_header))) {
                        ret->kind = ROUTE_INVALID;
                        ret->message = "E2b-Sandbox-Id must be 1 to 32 characters of [a-z0-9]";
                        return;
                }
                if (!parse_port(sandbox_port_header, strlen(sandbox_port_header), &ret->port)) {
                        ret->kind = ROUTE_INVALID;
                        ret->message = "E2b-Sandbox-Port must be a port number";
                        return;
                }
                ret->kind = ROUTE_SANDBOX;
                memcpy(ret->sandbox_id, sandbox_id_header, strlen(sandbox_id_header) + 1);
                return;
        }

        if (host) {
                /* "<port>-<id>.<domain>[:port]": only the left-most label matters. */
                const char *dot = strchr(host, '.');
                const char *dash;
                size_t label = dot ? (size_t)(dot - host) : 0;

                if (!dot)
                        return;
                dash = memchr(host, '-', label);
                if (!dash)
                        return;
                if (!parse_port(host, (size_t)(dash - host), &ret->port))
                        return;
                if (!valid_id(dash + 1, (size_t)(dot - dash - 1)))
                        return;
                ret->kind = ROUTE_SANDBOX;
                memcpy(ret->sandbox_id, dash + 1, (size_t)(dot - dash - 1));
                ret->sandbox_id[dot - dash - 1] = 0;
        }
}
