/* api_handle: X-API-KEY check, then a small table from (method, path shape) to handler. */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "../catalog/catalog.h"
#include "../daemon.h"
#include "handlers.h"
#include "reply.h"

#define ID_MAX 32

/* Splits "/sandboxes/<id>/<rest>" and friends. Returns true when url starts with prefix
 * followed by an id made of [a-z0-9] and then exactly `suffix`. */
static bool match_id(const char *url, const char *prefix, const char *suffix, char id[ID_MAX + 1])
{
        size_t lp = strlen(prefix), n = 0;
        const char *p;

        if (strncmp(url, prefix, lp) != 0)
                return false;
        p = url + lp;
        while (p[n] && p[n] != '/') {
                if (n >= ID_MAX)
                        return false;
                n++;
        }
        if (n == 0 || strcmp(p + n, suffix) != 0)
                return false;
        memcpy(id, p, n);
        id[n] = 0;
        return true;
}

static bool valid_id(const char *id)
{
        for (const char *p = id; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                        return false;
        return true;
}

static bool is(const char *method, const char *want)
{
        return strcmp(method, want) == 0;
}

enum MHD_Result api_handle(struct daemon *d, struct MHD_Connection *c, const char *method, const char *url,
                           const char *body, size_t body_len)
{
        struct api_call call = {.d = d, .c = c, .body = body ? body : "", .body_len = body_len};
        const char *key;
        char id[ID_MAX + 1];

        if (strcmp(url, "/health") == 0 && is(method, "GET"))
                return reply_empty(c, 200);

        key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-KEY");
        if (!key || catalog_key_verify(d->catalog, key) != 1)
                return reply_error(c, 401, key ? "Invalid API key" : "Missing API key: set the X-API-KEY header "
                                                                    "(E2B_API_KEY for the SDK)");

        if (strcmp(url, "/v2/sandboxes") == 0 || strcmp(url, "/sandboxes") == 0) {
                call.v2 = url[1] == 'v';
                if (is(method, "POST"))
                        return api_sandbox_create(&call);
                if (is(method, "GET"))
                        return api_sandbox_list(&call);
                return reply_error(c, 405, "method %s is not allowed on %s", method, url);
        }
        if (strcmp(url, "/templates") == 0 && is(method, "GET"))
                return api_template_list(&call);
        if (strcmp(url, "/sandboxes/metrics") == 0 && is(method, "GET"))
                return api_sandboxes_metrics(&call);

        call.id = id;
        if (match_id(url, "/sandboxes/", "", id) && valid_id(id)) {
                if (is(method, "GET"))
                        return api_sandbox_get(&call);
                if (is(method, "DELETE"))
                        return api_sandbox_kill(&call);
                return reply_error(c, 405, "method %s is not allowed on %s", method, url);
        }
        if (match_id(url, "/sandboxes/", "/timeout", id) && valid_id(id) && is(method, "POST"))
                return api_sandbox_timeout(&call);
        if (match_id(url, "/sandboxes/", "/refreshes", id) && valid_id(id) && is(method, "POST"))
                return api_sandbox_refresh(&call);
        if (match_id(url, "/sandboxes/", "/connect", id) && valid_id(id) && is(method, "POST"))
                return api_sandbox_connect(&call);
        if (match_id(url, "/v2/sandboxes/", "/connect", id) && valid_id(id) && is(method, "POST")) {
                call.v2 = true;
                return api_sandbox_connect(&call);
        }
        if (match_id(url, "/sandboxes/", "/pause", id) && valid_id(id) && is(method, "POST"))
                return api_sandbox_pause(&call);
        if (match_id(url, "/sandboxes/", "/resume", id) && valid_id(id) && is(method, "POST"))
                return api_sandbox_resume(&call);
        if (match_id(url, "/sandboxes/", "/metrics", id) && valid_id(id) && is(method, "GET"))
                return api_sandbox_metrics(&call);
        if (match_id(url, "/sandboxes/", "/logs", id) && valid_id(id) && is(method, "GET"))
                return api_sandbox_logs(&call);
        if (match_id(url, "/v2/sandboxes/", "/logs", id) && valid_id(id) && is(method, "GET"))
                return api_sandbox_logs_v2(&call);
        if (match_id(url, "/sandboxes/", "/network", id) && valid_id(id) && is(method, "PUT"))
                return api_sandbox_network(&call);
        if ((match_id(url, "/sandboxes/", "/fork", id) || match_id(url, "/sandboxes/", "/snapshots", id)) &&
            valid_id(id))
                return reply_error(c, 501, "%s %s is not supported by this nestbox version yet", method, url);
        return reply_error(c, 404, "no such endpoint: %s %.128s", method, url);
}
