/* Sandbox lifecycle over the control API (protocol.md §2.3): create, connect,
 * kill, set_timeout; and the handle that envd calls need (id, envd URL,
 * access token). The 404 special cases follow SandboxApi in the SDK. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../wire/base64.h"
#include "lib.h"

_public_ nestbox_sandbox *nestbox_sandbox_free(nestbox_sandbox *sb)
{
        if (!sb)
                return NULL;
        free(sb->id);
        free(sb->envd_url);
        free(sb->envd_version);
        if (sb->access_token) {
                explicit_bzero(sb->access_token, strlen(sb->access_token));
                free(sb->access_token);
        }
        free(sb);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(nestbox_sandbox *, nestbox_sandbox_free);

_public_ const char *nestbox_sandbox_id(const nestbox_sandbox *sb)
{
        return sb ? sb->id : NULL;
}

_public_ const char *nestbox_sandbox_envd_version(const nestbox_sandbox *sb)
{
        return sb ? sb->envd_version : NULL;
}

_public_ const char *nestbox_sandbox_envd_url(const nestbox_sandbox *sb)
{
        return sb ? sb->envd_url : NULL;
}

/* The numeric parts of "a.b.c" compared with "0.1.0"; unparsable counts as new enough. */
static bool envd_too_old(const char *v)
{
        unsigned a, b, c;

        if (!v || sscanf(v, "%u.%u.%u", &a, &b, &c) != 3)
                return false;
        return a == 0 && b < 1;
}

/* A Sandbox object (create/connect answer) -> handle. */
static int sandbox_from_json(nestbox_client *c, const char *body, size_t len, nestbox_sandbox **ret,
                             nestbox_error *err)
{
        _cleanup_(nestbox_sandbox_freep) nestbox_sandbox *sb = NULL;
        _cleanup_json_ json_t *j = NULL;
        json_t *id, *version, *token, *domain;

        j = json_loadb(body, len, 0, NULL);
        id = json_object_get(j, "sandboxID");
        version = json_object_get(j, "envdVersion");
        token = json_object_get(j, "envdAccessToken");
        domain = json_object_get(j, "domain");
        if (!json_is_object(j) || !json_is_string(id) || !lib_id_is_valid(json_string_value(id)))
                return lib_error_set(err, -EPROTO, 0,
                                     "the server's sandbox answer has no valid 'sandboxID'");

        sb = calloc(1, sizeof(*sb));
        if (!sb)
                return lib_oom(err);
        sb->client = c;
        sb->id = strdup(json_string_value(id));
        sb->envd_version = strdup(json_is_string(version) ? json_string_value(version) : "");
        if (json_is_string(token) && json_string_length(token) > 0) {
                sb->access_token = strdup(json_string_value(token));
                if (!sb->access_token)
                        return lib_oom(err);
        }
        if (!sb->id || !sb->envd_version)
                return lib_oom(err);
        sb->envd_url =
                lib_envd_url(&c->cfg, sb->id, json_is_string(domain) ? json_string_value(domain) : NULL);
        if (!sb->envd_url)
                return lib_oom(err);
        *ret = TAKE_PTR(sb);
        return 0;
}

/* "/sandboxes/<id><suffix>" with a checked id. */
static int sandbox_path(const char *prefix, const char *id, const char *suffix, char **ret,
                        nestbox_error *err)
{
        if (!lib_id_is_valid(id))
                return lib_error_set(err, -EINVAL, 0, "'%.64s' is not a sandbox ID", id ? id : "(null)");
        if (asprintf(ret, "%s%s%s", prefix, id, suffix) < 0)
                return lib_oom(err);
        return 0;
}

_public_ int nestbox_sandbox_create(nestbox_client *c, const nestbox_create_opts *opts,
                                    nestbox_sandbox **ret, nestbox_error *err)
{
        _cleanup_(lib_http_response_done) struct lib_http_response resp = {0};
        _cleanup_json_ json_t *body = NULL;
        nestbox_sandbox *sb;
        int r;

        if (!c || !ret)
                return lib_error_set(err, -EINVAL, 0, "client and ret must not be NULL");
        body = lib_create_body(opts);
        if (!body)
                return lib_oom(err);
        r = lib_api_call(c, "POST", "/v2/sandboxes", body, &resp, err);
        if (r < 0)
                return r;
        if (resp.status < 200 || resp.status > 299)
                return lib_error_from_api(resp.status, (const char *)resp.body.data, resp.body.len, err);
        r = sandbox_from_json(c, (const char *)resp.body.data, resp.body.len, &sb, err);
        if (r < 0)
                return r;
        if (envd_too_old(sb->envd_version)) {
                /* The SDK kills such a sandbox rather than half-use it. */
                (void)nestbox_sandbox_kill(c, sb->id, NULL);
                nestbox_sandbox_free(sb);
                return lib_error_set(err, -ENOTSUP, 0,
                                     "You need to update the template to use the new SDK.");
        }
        *ret = sb;
        return 0;
}

/* Whether an error body's "code" field is the given number: the SDK decides on
 * body.code, not on the HTTP status (protocol.md §2.1). */
static bool body_code_is(const struct lib_http_response *resp, int code)
{
        _cleanup_json_ json_t *j = json_loadb((const char *)resp->body.data, resp->body.len, 0, NULL);
        json_t *v = json_object_get(j, "code");

        return json_is_integer(v) && json_integer_value(v) == code;
}

_public_ int nestbox_sandbox_connect(nestbox_client *c, const char *sandbox_id, unsigned timeout_s,
                                     nestbox_sandbox **ret, nestbox_error *err)
{
        _cleanup_(lib_http_response_done) struct lib_http_response resp = {0};
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (!c || !ret)
                return lib_error_set(err, -EINVAL, 0, "client and ret must not be NULL");
        r = sandbox_path("/v2/sandboxes/", sandbox_id, "/connect", &path, err);
        if (r < 0)
                return r;
        body = timeout_s > 0 ? json_pack("{s:I}", "timeout", (json_int_t)timeout_s) : json_object();
        if (!body)
                return lib_oom(err);
        r = lib_api_call(c, "POST", path, body, &resp, err);
        if (r < 0)
                return r;
        if (resp.status < 200 || resp.status > 299) {
                if (body_code_is(&resp, 404))
                        return lib_error_set(err, -ENOENT, 404, "Paused sandbox %s not found", sandbox_id);
                return lib_error_from_api(resp.status, (const char *)resp.body.data, resp.body.len, err);
        }
        return sandbox_from_json(c, (const char *)resp.body.data, resp.body.len, ret, err);
}

_public_ int nestbox_sandbox_kill(nestbox_client *c, const char *sandbox_id, nestbox_error *err)
{
        _cleanup_(lib_http_response_done) struct lib_http_response resp = {0};
        _cleanup_free_ char *path = NULL;
        int r;

        if (!c)
                return lib_error_set(err, -EINVAL, 0, "client must not be NULL");
        r = sandbox_path("/sandboxes/", sandbox_id, "", &path, err);
        if (r < 0)
                return r;
        r = lib_api_call(c, "DELETE", path, NULL, &resp, err);
        if (r < 0)
                return r;
        if (resp.status >= 200 && resp.status <= 299)
                return 1;
        if (body_code_is(&resp, 404))
                return 0;
        return lib_error_from_api(resp.status, (const char *)resp.body.data, resp.body.len, err);
}

_public_ int nestbox_sandbox_set_timeout(nestbox_client *c, const char *sandbox_id, unsigned timeout_s,
                                         nestbox_error *err)
{
        _cleanup_(lib_http_response_done) struct lib_http_response resp = {0};
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (!c)
                return lib_error_set(err, -EINVAL, 0, "client must not be NULL");
        r = sandbox_path("/sandboxes/", sandbox_id, "/timeout", &path, err);
        if (r < 0)
                return r;
        body = json_pack("{s:I}", "timeout", (json_int_t)timeout_s);
        if (!body)
                return lib_oom(err);
        r = lib_api_call(c, "POST", path, body, &resp, err);
        if (r < 0)
                return r;
        if (resp.status >= 200 && resp.status <= 299)
                return 0;
        if (body_code_is(&resp, 404))
                return lib_error_set(err, -ENOENT, 404, "Sandbox %s not found", sandbox_id);
        return lib_error_from_api(resp.status, (const char *)resp.body.data, resp.body.len, err);
}

_public_ int nestbox_sandbox_get_info(nestbox_client *c, const char *sandbox_id, nestbox_sandbox_info **ret,
                                      nestbox_error *err)
{
        _cleanup_(lib_http_response_done) struct lib_http_response resp = {0};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (!c || !ret)
                return lib_error_set(err, -EINVAL, 0, "client and ret must not be NULL");
        r = sandbox_path("/sandboxes/", sandbox_id, "", &path, err);
        if (r < 0)
                return r;
        r = lib_api_call(c, "GET", path, NULL, &resp, err);
        if (r < 0)
                return r;
        if (resp.status < 200 || resp.status > 299) {
                if (body_code_is(&resp, 404))
                        return lib_error_set(err, -ENOENT, 404, "Sandbox %s not found", sandbox_id);
                return lib_error_from_api(resp.status, (const char *)resp.body.data, resp.body.len, err);
        }
        j = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
        if (!json_is_object(j))
                return lib_error_set(err, -EPROTO, (int)resp.status,
                                     "the server's sandbox info is not a JSON object");
        return lib_info_from_json(j, ret, err);
}

int lib_envd_headers(const nestbox_sandbox *sb, bool streaming, const char *user, unsigned timeout_ms,
                     struct curl_slist **ret)
{
        _cleanup_slist_ struct curl_slist *l = NULL;
        int r;

        r = lib_slist_add(&l, "E2b-Sandbox-Id: %s", sb->id);
        if (r >= 0)
                r = lib_slist_add(&l, "E2b-Sandbox-Port: %d", LIB_ENVD_PORT);
        if (r >= 0 && sb->access_token)
                r = lib_slist_add(&l, "X-Access-Token: %s", sb->access_token);
        if (r >= 0)
                r = lib_slist_add(&l, "Connect-Protocol-Version: 1");
        if (r >= 0) /* no 100-continue round trip for bodies over 1 KiB */
                r = lib_slist_add(&l, "Expect:");
        if (r >= 0)
                r = lib_slist_add(&l, "Content-Type: %s",
                                  streaming ? "application/connect+json" : "application/json");
        if (r >= 0 && streaming)
                r = lib_slist_add(&l, "Keepalive-Ping-Interval: %d", LIB_KEEPALIVE_INTERVAL_S);
        if (r >= 0 && timeout_ms > 0)
                r = lib_slist_add(&l, "Connect-Timeout-Ms: %u", timeout_ms);
        if (r >= 0 && user) {
                /* envd >= 0.4.0 picks the default user when the header is absent (§3.3). */
                _cleanup_(buf_done) struct buf b64 = {0};
                _cleanup_free_ char *pair = NULL;

                if (asprintf(&pair, "%s:", user) < 0) {
                        pair = NULL;
                        return -ENOMEM;
                }
                r = base64_encode((const uint8_t *)pair, strlen(pair), &b64);
                if (r >= 0)
                        r = lib_slist_add(&l, "Authorization: Basic %.*s", (int)b64.len,
                                          (const char *)b64.data);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}
