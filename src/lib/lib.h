/* libnestbox internals shared by the files of src/lib: the structs behind the opaque
 * handles of include/nestbox.h and the helpers between the modules. Nothing
 * here is exported (-fvisibility=hidden plus libnestbox.sym). */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../base/buf.h"
#include "../base/macro.h"
#include "nestbox.h"

/* The only symbols the shared library exports (with libnestbox.sym). */
#define _public_ __attribute__((visibility("default")))

#define LIB_USER_AGENT "libnestbox/" NESTBOX_VERSION_STRING
#define LIB_DEFAULT_DOMAIN "e2b.app"
#define LIB_ENVD_PORT 49983
#define LIB_API_TIMEOUT_MS 60000       /* the SDK's requestTimeoutMs */
#define LIB_PROCESS_TIMEOUT_MS 60000   /* the SDK's default Start timeout */
#define LIB_KEEPALIVE_INTERVAL_S 50    /* Keepalive-Ping-Interval we ask for (§3.4) */
#define LIB_STREAM_IDLE_S 180          /* no byte for this long: the stream is dead */
#define LIB_ERROR_BODY_MAX (64u << 10) /* bytes of an error body we keep */
#define LIB_BODY_MAX (32u << 20)       /* largest unary/API answer we accept */

/* ---- errors.c ---- */

/** Fills err (may be NULL) and returns code. */
int lib_error_set(nestbox_error *err, int code, int http_status, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static inline int lib_oom(nestbox_error *err)
{
        return lib_error_set(err, -ENOMEM, 0, "out of memory");
}

/** A non-2xx control API answer, the way the SDK's handleApiError words it
 *  (protocol.md §2.2): 401/429/503 get their fixed sentence plus " - <message>",
 *  anything else "<status>: <message>", message = body.message, else the raw
 *  body, else the status text. Returns the mapped -errno. */
int lib_error_from_api(long status, const char *body, size_t body_len, nestbox_error *err);

/** The -errno for a control API status (401 -EACCES, 404 -ENOENT, ...). */
int lib_errno_from_http_status(long status);

/** A Connect error, worded like the SDK's handleRpcError (protocol.md §3.8).
 *  code is the wire name ("not_found"); unknown names count as "unknown".
 *  message may be NULL. Returns the mapped -errno. */
int lib_error_from_connect(const char *code, const char *message, long http_status, nestbox_error *err);

/** The client's code for an error body without a string code (§3.1, third column). */
const char *lib_connect_code_from_http_status(long status);

/** A transport failure of url. */
int lib_error_from_curl(CURLcode cc, const char *errbuf, const char *url, nestbox_error *err);

/* ---- config.c: connection settings, pure functions ---- */

struct lib_config {
        char *api_url; /* no trailing '/' */
        char *api_key;
        char *sandbox_url; /* NULL: per-sandbox URLs built from the domain */
        char *domain;
        bool debug;
};

typedef const char *(*lib_getenv_fn)(const char *name);

/** Resolves the settings like the SDK's ConnectionConfig: explicit values, then
 *  the environment (through getenv_fn), then defaults. -EACCES without a key,
 *  -EINVAL for a URL without http:// or https://, -ENOMEM. */
int lib_config_resolve(const char *api_url, const char *api_key, const char *sandbox_url,
                       lib_getenv_fn getenv_fn, struct lib_config *ret, nestbox_error *err);
void lib_config_done(struct lib_config *cfg);

/** The envd base URL for a sandbox (§1.2): sandbox_url, else debug
 *  http://localhost:49983, else https://sandbox.<domain> for E2B's own domains,
 *  else https://49983-<id>.<domain>. domain: the create/connect response's, or
 *  NULL/"" for cfg->domain. Returns a new string or NULL (out of memory). */
char *lib_envd_url(const struct lib_config *cfg, const char *sandbox_id, const char *domain);

/** Appends s percent-encoded like encodeURIComponent. -ENOMEM. */
int lib_url_encode(struct buf *b, const char *s);

/** True for ids that are safe to put in a URL path unencoded ([A-Za-z0-9_.-]{1,128}). */
bool lib_id_is_valid(const char *id);

/* ---- http.c: one request on a curl easy handle ---- */

struct lib_http_response {
        long status;
        struct buf body;
        char *next_token;   /* X-Next-Token, when present and non-empty */
        char *content_type; /* Content-Type, when present */
};
void lib_http_response_done(struct lib_http_response *r);

/** Makes one request with h (reset first; connection reuse is kept). body may be
 *  NULL (no body). headers is borrowed. Transport errors only; any HTTP status is
 *  a success here. */
int lib_http_request(CURL *h, const char *method, const char *url, struct curl_slist *headers,
                     const char *body, size_t body_len, long timeout_ms, struct lib_http_response *resp,
                     nestbox_error *err);

/** curl_global_init once per process. */
int lib_http_global_init(nestbox_error *err);

/** curl_slist_append that keeps the list on failure. -ENOMEM. */
int lib_slist_add(struct curl_slist **l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void lib_slist_freep(struct curl_slist **l)
{
        curl_slist_free_all(*l);
        *l = NULL;
}
#define _cleanup_slist_ _cleanup_(lib_slist_freep)
static inline void lib_json_decrefp(json_t **j)
{
        json_decref(*j);
}
#define _cleanup_json_ _cleanup_(lib_json_decrefp)

/* ---- client.c ---- */

struct nestbox_client {
        struct lib_config cfg;
        pthread_mutex_t lock; /* guards api */
        CURL *api;            /* control API calls, one at a time (connection reuse) */
};

/** One control API call: method on cfg.api_url + path, body (may be NULL) as JSON.
 *  On success *resp holds any status; callers map non-2xx themselves. */
int lib_api_call(nestbox_client *c, const char *method, const char *path, json_t *body,
                 struct lib_http_response *resp, nestbox_error *err);

/* ---- sandbox.c ---- */

struct nestbox_sandbox {
        nestbox_client *client; /* borrowed */
        char *id;
        char *envd_url;
        char *envd_version;
        char *access_token; /* NULL when the sandbox has none */
};

/** The envd headers every RPC carries (§1.3, §3.1); user may be NULL. */
int lib_envd_headers(const nestbox_sandbox *sb, bool streaming, const char *user, unsigned timeout_ms,
                     struct curl_slist **ret);

/* ---- info.c ---- */

/** Builds an info from a SandboxDetail / ListedSandbox object (borrowed). -EPROTO
 *  when sandboxID is missing. */
int lib_info_from_json(json_t *o, nestbox_sandbox_info **ret, nestbox_error *err);

/** Parses RFC 3339 (YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)) to epoch ms. -EINVAL. */
int lib_rfc3339_to_ms(const char *s, int64_t *ret);

/* ---- stream.c: Connect server-stream decoding, pure ---- */

enum lib_event_kind {
        LIB_EVENT_START,
        LIB_EVENT_DATA,
        LIB_EVENT_END,
        LIB_EVENT_KEEPALIVE,
        LIB_EVENT_OTHER, /* a member this library does not know: ignored */
};

struct lib_process_event {
        enum lib_event_kind kind;
        uint32_t pid;    /* START */
        int stream;      /* DATA: NESTBOX_STDOUT / NESTBOX_STDERR / NESTBOX_PTY */
        struct buf data; /* DATA: decoded bytes */
        int exit_code;   /* END */
        bool exited;     /* END */
        char *status;    /* END, may be NULL */
        char *error;     /* END, may be NULL */
};
void lib_process_event_done(struct lib_process_event *e);

/** Parses one StartResponse/ConnectResponse JSON message ({"event":{...}}).
 *  -EPROTO with a message when it is not one. */
int lib_process_event_parse(const char *json, size_t len, struct lib_process_event *ret, nestbox_error *err);

/** Parses an end-of-stream message: 0 for success ({} or metadata only), else the
 *  mapped error of {"error":{"code","message"}}. -EPROTO if it does not parse. */
int lib_end_stream_parse(const char *json, size_t len, nestbox_error *err);

/** Incremental envelope reader over a buffer of received bytes. */
struct lib_envelope {
        uint8_t flags;
        const char *payload; /* points into the buffer; valid until the next append */
        uint32_t len;
};
/** Takes the next whole envelope from b (consumed from b's front). 1 = one taken,
 *  0 = need more bytes, -EPROTO = malformed/compressed (message in err). */
int lib_envelope_next(struct buf *b, struct lib_envelope *ret, nestbox_error *err);

/** Exit status for the caller: exit_code when exited, else 128+N for Go's
 *  "signal: <name>" status of signal N, else exit_code. */
int lib_exit_code(bool exited, int exit_code, const char *status);

/* ---- rpc.c: unary envd calls ---- */

/** POST <envd>/process.Process/<method> with req (JSON), on h. *ret_resp (may be
 *  NULL) gets the response object. user may be NULL. */
int lib_rpc_unary(const nestbox_sandbox *sb, CURL *h, const char *method, json_t *req, const char *user,
                  json_t **ret_resp, nestbox_error *err);

/** Maps a non-200 unary answer (§3.1): code from the body's string "code", else
 *  from the status; message from the body, else "HTTP <status>". */
int lib_rpc_error(long status, const char *content_type, const char *body, size_t body_len,
                  nestbox_error *err);

/* ---- opts.c ---- */

struct lib_kv {
        char *key;
        char *value;
};
struct lib_kv_list {
        struct lib_kv *items;
        size_t n;
};
int lib_kv_set(struct lib_kv_list *l, const char *key, const char *value);
void lib_kv_done(struct lib_kv_list *l);
/** {"k":"v",...}; NULL when empty or out of memory (check l->n). */
json_t *lib_kv_to_json(const struct lib_kv_list *l);

struct nestbox_create_opts {
        char *template_id;
        unsigned timeout_s;
        bool has_timeout;
        struct lib_kv_list metadata;
        struct lib_kv_list envs;
};

struct nestbox_process_opts {
        char *user;
        char *cwd;
        struct lib_kv_list envs;
        unsigned timeout_ms;
        bool stdin_open;
        char **argv; /* NULL-terminated, or NULL */
};

/** Serializes a create body (NewSandboxV2) like the SDK: templateID, then
 *  timeout/metadata/envVars only when set. */
json_t *lib_create_body(const nestbox_create_opts *o);
