/* Sandbox endpoints: create, get, kill, timeout, refresh, connect (v1 and v2
 * share these; `call->v2` only changes defaults). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../catalog/catalog.h"
#include "../daemon.h"
#include "../lifecycle/manager.h"
#include "handlers.h"
#include "reply.h"
#include "sandbox-json.h"

#define TIMEOUT_MAX_S 86400        /* E2B's longest sandbox lifetime */
#define V2_DEFAULT_TIMEOUT_S 300
#define V1_DEFAULT_TIMEOUT_S 15

/* Parses the body as a JSON object; an empty body counts as {}. */
static json_t *parse_body(const struct api_call *call, char *why, size_t why_len)
{
        json_error_t jerr;
        json_t *v;

        if (call->body_len == 0)
                return json_object();
        v = json_loadb(call->body, call->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!v) {
                snprintf(why, why_len, "request body is not valid JSON: %s (line %d)", jerr.text, jerr.line);
                return NULL;
        }
        if (!json_is_object(v)) {
                json_decref(v);
                snprintf(why, why_len, "request body must be a JSON object");
                return NULL;
        }
        return v;
}

/* A map of string to string, as metadata and envVars must be. NULL/absent gives "{}". */
static int string_map_text(json_t *v, const char *field, char **ret, char *why, size_t why_len)
{
        const char *k;
        json_t *x;

        if (!v || json_is_null(v)) {
                *ret = strdup("{}");
                return *ret ? 0 : -ENOMEM;
        }
        if (!json_is_object(v)) {
                snprintf(why, why_len, "'%s' must be an object of string values", field);
                return -EINVAL;
        }
        json_object_foreach(v, k, x)
                if (!json_is_string(x)) {
                        snprintf(why, why_len, "'%s.%.64s' must be a string", field, k);
                        return -EINVAL;
                }
        *ret = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        return *ret ? 0 : -ENOMEM;
}

static int timeout_field(json_t *v, int64_t fallback, int64_t *ret, char *why, size_t why_len)
{
        if (!v || json_is_null(v)) {
                *ret = fallback;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > TIMEOUT_MAX_S) {
                snprintf(why, why_len, "'timeout' must be an integer number of seconds from 0 to %d", TIMEOUT_MAX_S);
                return -EINVAL;
        }
        *ret = json_integer_value(v);
        return 0;
}

static enum MHD_Result reply_manager_error(struct MHD_Connection *c, int r, const struct nb_error *err)
{
        switch (r) {
        case -ENOENT:
                return reply_error(c, 404, "%s", err->message);
        case -EINVAL:
                return reply_error(c, 400, "%s", err->message);
        case -EALREADY:
                return reply_error(c, 409, "%s", err->message);
        case -EAGAIN:
                return reply_error(c, 429, "%s", err->message);
        default:
                return reply_error(c, 500, "%s", err->message[0] ? err->message : "internal error");
        }
}

static enum MHD_Result reply_sandbox(const struct api_call *call, const char *id, unsigned status,
                                     json_t *(*shape)(const struct catalog_sandbox *, const char *domain))
{
        struct catalog_sandbox *row = NULL;
        struct nb_error err = {0};
        int r;

        r = catalog_sandbox_get(call->d->catalog, id, &row, &err);
        if (r == -ENOENT)
                return reply_error(call->c, 404, "sandbox '%s' not found", id);
        if (r < 0)
                return reply_error(call->c, 500, "%s", err.message);
        {
                enum MHD_Result ret = reply_json(call->c, status, shape(row, call->d->domain));

                catalog_sandbox_free(row);
                return ret;
        }
}

int api_sandbox_known(const struct api_call *call, enum MHD_Result *ret)
{
        struct catalog_sandbox *row = NULL;
        struct nb_error err = {0};
        int r = catalog_sandbox_get(call->d->catalog, call->id, &row, &err);

        catalog_sandbox_free(row);
        if (r >= 0)
                return 0;
        *ret = r == -ENOENT ? reply_error(call->c, 404, "sandbox '%s' not found", call->id)
                            : reply_error(call->c, 500, "%s", err.message);
        return 1;
}

enum MHD_Result api_sandbox_create(const struct api_call *call)
{
        struct create_request req = {.allow_internet_access = -1};
        _cleanup_free_ char *metadata = NULL, *envs = NULL, *network = NULL, *lifecycle = NULL, *id = NULL;
        struct nb_error err = {0};
        char why[256];
        json_t *body, *v;
        int r;

        body = parse_body(call, why, sizeof(why));
        if (!body)
                return reply_error(call->c, 400, "%s", why);
        v = json_object_get(body, "templateID");
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 128) {
                json_decref(body);
                return reply_error(call->c, 400, "'templateID' is required: the name or id of a template");
        }
        req.template_ref = json_string_value(v);
        r = timeout_field(json_object_get(body, "timeout"), call->v2 ? V2_DEFAULT_TIMEOUT_S : V1_DEFAULT_TIMEOUT_S,
                          &req.timeout_s, why, sizeof(why));
        if (r >= 0)
                r = string_map_text(json_object_get(body, "metadata"), "metadata", &metadata, why, sizeof(why));
        if (r >= 0)
                r = string_map_text(json_object_get(body, "envVars"), "envVars", &envs, why, sizeof(why));
        if (r < 0) {
                json_decref(body);
                return r == -ENOMEM ? reply_error(call->c, 500, "out of memory") : reply_error(call->c, 400, "%s", why);
        }
        req.metadata_json = metadata;
        req.envs_json = envs;
        req.secure = json_is_true(json_object_get(body, "secure"));
        req.auto_pause = json_is_true(json_object_get(body, "autoPause"));
        v = json_object_get(body, "allow_internet_access");
        if (json_is_boolean(v))
                req.allow_internet_access = json_is_true(v);
        v = json_object_get(body, "network");
        if (v && !json_is_null(v) && !json_is_object(v)) {
                json_decref(body);
                return reply_error(call->c, 400, "'network' must be an object");
        }
        if (json_is_object(v))
                req.network_json = network = json_dumps(v, JSON_COMPACT);
        v = json_object_get(body, "autoResume");
        if (json_is_object(v))
                req.lifecycle_json = lifecycle = json_dumps(v, JSON_COMPACT);

        r = manager_create(call->d->manager, &req, &id, &err);
        if (r < 0) {
                enum MHD_Result ret = r == -ENOENT ? reply_error(call->c, 404, "template '%.128s' not found",
                                                                 req.template_ref)
                                                   : reply_manager_error(call->c, r, &err);

                json_decref(body); /* req.template_ref points into it */
                return ret;
        }
        json_decref(body);
        return reply_sandbox(call, id, 201, sandbox_json_created);
}

enum MHD_Result api_sandbox_get(const struct api_call *call)
{
        return reply_sandbox(call, call->id, 200, sandbox_json_detail);
}

enum MHD_Result api_sandbox_kill(const struct api_call *call)
{
        struct nb_error err = {0};
        int r = manager_kill(call->d->manager, call->id, &err);

        if (r < 0)
                return reply_manager_error(call->c, r, &err);
        return reply_empty(call->c, 204);
}

/* Reads a timeout in seconds from the body's `field` (default 300 when optional and absent).
 * Returns 0, or 1 with the queued 400 in *ret. */
static int body_timeout(const struct api_call *call, const char *field, bool required, int64_t *ret_timeout,
                        enum MHD_Result *ret)
{
        char why[256];
        json_t *body = parse_body(call, why, sizeof(why));
        json_t *v;
        int r;

        if (!body) {
                *ret = reply_error(call->c, 400, "%s", why);
                return 1;
        }
        v = json_object_get(body, field);
        if (required && !v) {
                json_decref(body);
                *ret = reply_error(call->c, 400, "'%s' is required (seconds)", field);
                return 1;
        }
        r = timeout_field(v, V2_DEFAULT_TIMEOUT_S, ret_timeout, why, sizeof(why));
        json_decref(body);
        if (r < 0) {
                *ret = reply_error(call->c, 400, "%s", why);
                return 1;
        }
        return 0;
}

static enum MHD_Result set_timeout(const struct api_call *call, const char *field, bool required, bool only_extend)
{
        struct nb_error err = {0};
        enum MHD_Result ret;
        int64_t timeout;
        int r;

        if (body_timeout(call, field, required, &timeout, &ret))
                return ret;
        r = manager_set_timeout(call->d->manager, call->id, timeout, only_extend, &err);
        if (r < 0)
                return reply_manager_error(call->c, r, &err);
        return reply_empty(call->c, 204);
}

enum MHD_Result api_sandbox_timeout(const struct api_call *call)
{
        return set_timeout(call, "timeout", true, false);
}

enum MHD_Result api_sandbox_refresh(const struct api_call *call)
{
        return set_timeout(call, "duration", false, true);
}

/* Connect and resume: a paused sandbox is thawed with a fresh lifetime (201). A running one
 * is, for connect, only ever extended (200); for resume, a 409. */
static enum MHD_Result resume(const struct api_call *call, bool running_ok)
{
        struct nb_error err = {0};
        enum MHD_Result ret;
        int64_t timeout;
        int r;

        if (body_timeout(call, "timeout", false, &timeout, &ret))
                return ret;
        r = manager_resume(call->d->manager, call->id, timeout, &err);
        if (r == 0 && !running_ok)
                return reply_error(call->c, 409, "sandbox '%s' is already running", call->id);
        if (r == 0)
                r = manager_set_timeout(call->d->manager, call->id, timeout, true, &err);
        if (r < 0)
                return reply_manager_error(call->c, r, &err);
        return reply_sandbox(call, call->id, r > 0 ? 201 : 200, sandbox_json_created);
}

enum MHD_Result api_sandbox_connect(const struct api_call *call)
{
        return resume(call, true);
}

enum MHD_Result api_sandbox_resume(const struct api_call *call)
{
        return resume(call, false);
}

/* PUT /sandboxes/{id}/network: the egress rules replaced whole; a field left out clears. */
enum MHD_Result api_sandbox_network(const struct api_call *call)
{
        static const char *const fields[] = {"allowOut", "denyOut", "egressProxy", "rules"};
        struct nb_error err = {0};
        int allow_internet_access = -1, r;
        json_t *body, *update, *v;
        char why[256];

        body = parse_body(call, why, sizeof(why));
        if (!body)
                return reply_error(call->c, 400, "%s", why);
        v = json_object_get(body, "allow_internet_access");
        if (v && !json_is_null(v) && !json_is_boolean(v)) {
                json_decref(body);
                return reply_error(call->c, 400, "'allow_internet_access' must be true or false");
        }
        if (json_is_boolean(v))
                allow_internet_access = json_is_true(v);
        update = json_object();
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                if ((v = json_object_get(body, fields[i])))
                        json_object_set(update, fields[i], v);
        json_decref(body);
        r = manager_update_network(call->d->manager, call->id, allow_internet_access, update, &err);
        json_decref(update);
        if (r < 0)
                return reply_manager_error(call->c, r, &err);
        return reply_empty(call->c, 204);
}

enum MHD_Result api_sandbox_pause(const struct api_call *call)
{
        struct nb_error err = {0};
        int r = manager_pause(call->d->manager, call->id, &err);

        if (r < 0)
                return reply_manager_error(call->c, r, &err);
        return reply_empty(call->c, 204);
}
