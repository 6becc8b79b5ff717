/* Unary Connect calls to envd's process service with the JSON codec
 * (protocol.md §3.1): the request is the bare JSON message, a 200 answer the
 * bare response message, anything else an error body mapped once here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib.h"

static bool content_type_is_json(const char *ct)
{
        return ct && strncasecmp(ct, "application/json", 16) == 0 && (ct[16] == '\0' || ct[16] == ';');
}

int lib_rpc_error(long status, const char *content_type, const char *body, size_t body_len,
                  nestbox_error *err)
{
        _cleanup_json_ json_t *j = NULL;
        const char *code = NULL, *msg = NULL;
        char fallback[32];

        /* A non-200 without a JSON content type is a bare "HTTP <status>" (§3.1). */
        if (content_type_is_json(content_type) && body && body_len > 0) {
                j = json_loadb(body, body_len, 0, NULL);
                if (json_is_string(json_object_get(j, "code")))
                        code = json_string_value(json_object_get(j, "code"));
                if (json_is_string(json_object_get(j, "message")))
                        msg = json_string_value(json_object_get(j, "message"));
        }
        if (!code)
                code = lib_connect_code_from_http_status(status);
        if (!msg) {
                snprintf(fallback, sizeof(fallback), "HTTP %ld", status);
                msg = fallback;
        }
        return lib_error_from_connect(code, msg, status, err);
}

int lib_rpc_unary(const nestbox_sandbox *sb, CURL *h, const char *method, json_t *req, const char *user,
                  json_t **ret_resp, nestbox_error *err)
{
        _cleanup_(lib_http_response_done) struct lib_http_response resp = {0};
        _cleanup_slist_ struct curl_slist *headers = NULL;
        _cleanup_free_ char *url = NULL, *body = NULL;
        json_t *j;
        int r;

        if (asprintf(&url, "%s/process.Process/%s", sb->envd_url, method) < 0) {
                url = NULL;
                return lib_oom(err);
        }
        body = json_dumps(req, JSON_COMPACT);
        if (!body)
                return lib_oom(err);
        r = lib_envd_headers(sb, false, user, 0, &headers);
        if (r < 0)
                return lib_oom(err);
        r = lib_http_request(h, "POST", url, headers, body, strlen(body), LIB_API_TIMEOUT_MS, &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 200)
                return lib_rpc_error(resp.status, resp.content_type, (const char *)resp.body.data,
                                     resp.body.len, err);
        if (!ret_resp)
                return 0;
        j = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
        if (!json_is_object(j)) {
                json_decref(j);
                return lib_error_set(err, -EPROTO, 200, "protocol error: the %s answer is not a JSON object",
                                     method);
        }
        *ret_resp = j;
        return 0;
}
