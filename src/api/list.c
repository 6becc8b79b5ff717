/* GET /v2/sandboxes (and v1 GET /sandboxes), GET /templates.
 * The metadata filter arrives encoded three times (protocol.md §2.5): MHD undoes
 * the first layer, metadata_filter_parse() the other two. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../catalog/catalog.h"
#include "../daemon.h"
#include "handlers.h"
#include "list-query.h"
#include "reply.h"
#include "sandbox-json.h"

static const char *arg(const struct api_call *call, const char *name)
{
        return MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, name);
}

enum MHD_Result api_sandbox_list(const struct api_call *call)
{
        struct catalog_sandbox_filter f = {.limit = 100};
        struct catalog_sandbox **rows = NULL;
        struct metadata_filter meta = {0};
        _cleanup_free_ char *next = NULL;
        struct nb_error err = {0};
        const char *v;
        json_t *out;
        size_t n = 0;
        int r;

        v = arg(call, "state");
        if (call->v2 && v && list_parse_states(v, &f.states) < 0)
                return reply_error(call->c, 400, "'state' must be a comma-separated list of running, paused");
        if (!call->v2)
                f.states = 1; /* v1 lists running sandboxes only */
        v = arg(call, "metadata");
        if (v && metadata_filter_parse(v, &meta) < 0)
                return reply_error(call->c, 400, "'metadata' must be key=value pairs joined by &, each URL-encoded");
        f.metadata_kv = (const char *const *)meta.kv;
        f.n_metadata = meta.n;
        f.template_id = arg(call, "template");
        if (f.template_id && strchr(f.template_id, ':')) {
                metadata_filter_done(&meta);
                return reply_error(call->c, 400, "'template' takes a template id or alias without a tag");
        }
        v = arg(call, "startedAfter");
        if (v && list_parse_rfc3339_ms(v, &f.started_after) < 0) {
                metadata_filter_done(&meta);
                return reply_error(call->c, 400, "'startedAfter' must be an RFC 3339 time");
        }
        v = arg(call, "order");
        if (v && strcmp(v, "asc") != 0 && strcmp(v, "desc") != 0) {
                metadata_filter_done(&meta);
                return reply_error(call->c, 400, "'order' must be asc or desc");
        }
        f.ascending = v && strcmp(v, "asc") == 0;
        v = arg(call, "limit");
        if (v) {
                int64_t l;

                if (query_parse_int(v, 1, 100, &l) < 0) {
                        metadata_filter_done(&meta);
                        return reply_error(call->c, 400, "'limit' must be an integer from 1 to 100");
                }
                f.limit = (size_t)l;
        }
        if (!call->v2)
                f.limit = 100;
        f.cursor = call->v2 ? arg(call, "nextToken") : NULL;
        if (f.cursor && !f.cursor[0])
                f.cursor = NULL;

        r = catalog_sandbox_list(call->d->catalog, &f, &rows, &n, &next, &err);
        metadata_filter_done(&meta);
        if (r == -EINVAL)
                return reply_error(call->c, 400, "'nextToken' is not a token this server issued");
        if (r < 0)
                return reply_error(call->c, 500, "%s", err.message);
        out = json_array();
        for (size_t i = 0; i < n; i++) {
                json_array_append_new(out, sandbox_json_listed(rows[i]));
                catalog_sandbox_free(rows[i]);
        }
        free(rows);
        if (call->v2 && next)
                return reply_json_with_header(call->c, 200, out, "X-Next-Token", next);
        return reply_json(call->c, 200, out);
}

enum MHD_Result api_template_list(const struct api_call *call)
{
        struct catalog_template **t = NULL;
        struct nb_error err = {0};
        json_t *out;
        size_t n = 0;
        int r;

        r = catalog_template_list(call->d->catalog, &t, &n, &err);
        if (r < 0)
                return reply_error(call->c, 500, "%s", err.message);
        out = json_array();
        for (size_t i = 0; i < n; i++) {
                char created[32], updated[32];
                json_t *aliases = json_array();

                for (size_t j = 0; j < t[i]->n_aliases; j++)
                        json_array_append_new(aliases, json_string(t[i]->aliases[j]));
                format_rfc3339_ms(t[i]->created_at, created);
                format_rfc3339_ms(t[i]->updated_at, updated);
                json_array_append_new(
                        out, json_pack("{s:s, s:s, s:o, s:[s], s:b, s:i, s:i, s:i, s:s, s:s, s:s, s:n, s:i, s:i, s:s}",
                                       "templateID", t[i]->id, "buildID", t[i]->id, "aliases", aliases, "names",
                                       t[i]->name, "public", 1, "cpuCount", (int)t[i]->cpu_count, "memoryMB",
                                       (int)t[i]->memory_mb, "diskSizeMB", (int)t[i]->disk_mb, "envdVersion",
                                       t[i]->envd_version ? t[i]->envd_version : "0.6.4", "createdAt", created,
                                       "updatedAt", updated, "createdBy", "spawnCount", 0, "buildCount", 1,
                                       "buildStatus", "ready"));
                catalog_template_free(t[i]);
        }
        free(t);
        return reply_json(call->c, 200, out);
}
