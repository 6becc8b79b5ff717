/* Sandbox rows -> E2B JSON. Optional fields are omitted rather than null where
 * the SDK treats absence and null alike. */
#include "sandbox-json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../catalog/catalog.h"
#include "config.h"

#define CLIENT_ID "nestbox"

void format_rfc3339_ms(int64_t ms, char out[32])
{
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;

        size_t n;

        gmtime_r(&secs, &tm);
        n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static json_t *object_or_empty(const char *text)
{
        json_t *v = text ? json_loads(text, 0, NULL) : NULL;

        if (!json_is_object(v)) {
                json_decref(v);
                return json_object();
        }
        return v;
}

static json_t *domain_or_null(const char *domain)
{
        return domain ? json_string(domain) : json_null();
}

json_t *sandbox_json_created(const struct catalog_sandbox *s, const char *domain)
{
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:n, s:o}", "sandboxID", s->id, "templateID", s->template_id,
                              "clientID", CLIENT_ID, "envdVersion", NESTBOX_ENVD_VERSION, "trafficAccessToken",
                              "domain", domain_or_null(domain));

        if (s->alias)
                json_object_set_new(o, "alias", json_string(s->alias));
        if (s->access_token)
                json_object_set_new(o, "envdAccessToken", json_string(s->access_token));
        return o;
}

json_t *sandbox_json_listed(const struct catalog_sandbox *s)
{
        char started[32], end[32];
        json_t *o;

        format_rfc3339_ms(s->started_at, started);
        format_rfc3339_ms(s->end_at, end);
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:o}", "sandboxID", s->id, "templateID",
                      s->template_id, "clientID", CLIENT_ID, "startedAt", started, "endAt", end, "state",
                      s->state, "cpuCount", (int)s->cpu_count, "memoryMB", (int)s->memory_mb, "diskSizeMB",
                      (int)s->disk_mb, "envdVersion", NESTBOX_ENVD_VERSION, "metadata",
                      object_or_empty(s->metadata_json));
        if (s->alias)
                json_object_set_new(o, "alias", json_string(s->alias));
        return o;
}

json_t *sandbox_json_detail(const struct catalog_sandbox *s, const char *domain)
{
        json_t *o = sandbox_json_listed(s);

        if (s->access_token)
                json_object_set_new(o, "envdAccessToken", json_string(s->access_token));
        json_object_set_new(o, "allowInternetAccess",
                            s->allow_internet_access < 0 ? json_null() : json_boolean(s->allow_internet_access));
        json_object_set_new(o, "domain", domain_or_null(domain));
        json_object_set_new(o, "lifecycle", json_pack("{s:s, s:b}", "onTimeout", s->auto_pause ? "pause" : "kill",
                                                      "autoResume", 0));
        if (s->network_json) {
                json_t *n = json_loads(s->network_json, 0, NULL);

                if (n)
                        json_object_set_new(o, "network", n);
        }
        return o;
}
