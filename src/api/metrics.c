/* GET /sandboxes/{id}/metrics (the SDK's getMetrics, the CLI's `sandbox metrics`) and
 * GET /sandboxes/metrics?sandbox_ids=a,b (the newest sample of each). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../catalog/catalog.h"
#include "../daemon.h"
#include "../lifecycle/metrics.h"
#include "handlers.h"
#include "list-query.h"
#include "reply.h"

#define METRICS_IDS_MAX 100

/* Unix seconds from the query; absent leaves *ret alone. */
static int seconds_arg(const struct api_call *call, const char *name, int64_t *ret)
{
        const char *v = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, name);

        return v ? query_parse_int(v, 0, INT64_MAX, ret) : 0;
}

enum MHD_Result api_sandbox_metrics(const struct api_call *call)
{
        enum MHD_Result ret;
        int64_t start = 0, end = INT64_MAX;
        json_t *array;

        if (seconds_arg(call, "start", &start) < 0 || seconds_arg(call, "end", &end) < 0)
                return reply_error(call->c, 400, "'start' and 'end' must be unix times in seconds");
        if (start > end)
                return reply_error(call->c, 400, "'start' (%lld) is after 'end' (%lld)", (long long)start,
                                   (long long)end);
        if (api_sandbox_known(call, &ret))
                return ret;

        array = json_array();
        if (!array || metrics_query(call->d->metrics, call->id, start, end, array) < 0) {
                json_decref(array);
                return reply_error(call->c, 500, "out of memory");
        }
        return reply_json(call->c, 200, array);
}

/* sandbox_ids arrives comma-separated (and may repeat, as some clients send arrays). */
enum MHD_Result api_sandboxes_metrics(const struct api_call *call)
{
        const char *v = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, "sandbox_ids");
        json_t *map = json_object(), *body;
        unsigned count = 0;

        if (!map)
                return reply_error(call->c, 500, "out of memory");
        if (!v || !*v) {
                json_decref(map);
                return reply_error(call->c, 400, "'sandbox_ids' is required: a comma-separated list of sandbox ids");
        }
        for (const char *p = v; *p;) {
                size_t n = strcspn(p, ",");
                char id[CATALOG_SANDBOX_ID_MAX + 1];
                json_t *latest;

                if (n == 0 || n > CATALOG_SANDBOX_ID_MAX || ++count > METRICS_IDS_MAX) {
                        json_decref(map);
                        return reply_error(call->c, 400,
                                           "'sandbox_ids' must list 1 to %d sandbox ids separated by commas",
                                           METRICS_IDS_MAX);
                }
                memcpy(id, p, n);
                id[n] = 0;
                latest = metrics_latest(call->d->metrics, id);
                if (latest)
                        json_object_set_new(map, id, latest);
                p += n;
                if (*p == ',')
                        p++;
        }
        body = json_pack("{s:o}", "sandboxes", map);
        if (!body)
                return reply_error(call->c, 500, "out of memory");
        return reply_json(call->c, 200, body);
}
