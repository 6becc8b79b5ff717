/* Response builders. Bodies are copied into MHD (MUSTCOPY) so nothing here
 * outlives the call. */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../base/log.h"

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const char *text, size_t len,
                             const char *name, const char *value)
{
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        if (len > 0 || status != 204)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        if (name)
                MHD_add_response_header(resp, name, value);
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result reply_json_with_header(struct MHD_Connection *c, unsigned status, json_t *body, const char *name,
                                       const char *value)
{
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        enum MHD_Result ret;

        json_decref(body);
        if (!text)
                return queue(c, 500, "{\"code\":500,\"message\":\"out of memory\"}", 38, NULL, NULL);
        ret = queue(c, status, text, strlen(text), name, value);
        free(text);
        return ret;
}

enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
        return reply_json_with_header(c, status, body, NULL, NULL);
}

enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
        char message[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        if (status >= 500)
                log_warning("HTTP %u: %s", status, message);
        return reply_json(c, status, json_pack("{s:i, s:s}", "code", (int)status, "message", message));
}

enum MHD_Result reply_empty(struct MHD_Connection *c, unsigned status)
{
        return queue(c, status, "", 0, NULL, NULL);
}

enum MHD_Result reply_sandbox_not_found(struct MHD_Connection *c, const char *sandbox_id)
{
        return reply_json(c, 502,
                          json_pack("{s:s, s:s, s:i}", "sandboxId", sandbox_id, "message",
                                    "The sandbox was not found", "code", 502));
}
