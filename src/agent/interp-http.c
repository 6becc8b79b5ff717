/* Routes of the code interpreter (see interp.h). Status codes and bodies follow
 * E2B's FastAPI server, which the SDK reads (protocol.md §5.1): 404 bodies are
 * plain text the client shows as NotFoundError's message. */
#include "interp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "interp-kernel.h"
#include "log.h"
#include "macro.h"

#define CONTEXTS_PREFIX "/contexts/"
#define RESTART_SUFFIX "/restart"

bool interp_is_port(const struct conn *c)
{
        return json_integer_value(json_object_get(c->head, "port")) == INTERP_PORT;
}

void interp_head(struct conn *c)
{
        (void)c;
}

static void reply_text(struct conn *c, int status, const char *text)
{
        conn_reply(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void reply_json(struct conn *c, int status, json_t *v)
{
        _cleanup_free_ char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

        if (!text)
                return reply_text(c, 500, "out of memory");
        conn_reply(c, status, "application/json", text, strlen(text));
}

static void reply_not_found(struct conn *c, const char *id)
{
        char text[256];

        snprintf(text, sizeof(text), "Context %.128s not found", id);
        reply_text(c, 404, text);
}

/* E2B's names (protocol.md §5.1): lower case, js -> javascript, ts -> typescript;
 * python3 is ours. Fills *ret and returns 0 for a language with a driver, else
 * writes a message naming what is available and returns -EOPNOTSUPP. */
static int parse_language(const char *lang, enum interp_language *ret, char *message, size_t n)
{
        char buf[64];
        size_t i;

        if (!lang || !lang[0]) {
                *ret = INTERP_PYTHON;
                return 0;
        }
        for (i = 0; lang[i] && i + 1 < sizeof(buf); i++)
                buf[i] = (char)(lang[i] >= 'A' && lang[i] <= 'Z' ? lang[i] - 'A' + 'a' : lang[i]);
        buf[i] = '\0';
        if (strcmp(buf, "python") == 0 || strcmp(buf, "python3") == 0) {
                *ret = INTERP_PYTHON;
                return 0;
        }
        if (strcmp(buf, "bash") == 0 || strcmp(buf, "sh") == 0) {
                *ret = INTERP_BASH;
                return 0;
        }
        if (strcmp(buf, "javascript") == 0 || strcmp(buf, "js") == 0) {
                *ret = INTERP_JAVASCRIPT;
                return 0;
        }
        if (strcmp(buf, "typescript") == 0 || strcmp(buf, "ts") == 0) {
                *ret = INTERP_TYPESCRIPT;
                return 0;
        }
        snprintf(message, n,
                 "language '%.64s' is not supported by nestbox's code interpreter: only python, javascript, "
                 "typescript and bash are available",
                 buf);
        return -EOPNOTSUPP;
}

static json_t *ctx_json(const struct interp_ctx *ctx)
{
        return json_pack("{s:s,s:s,s:s}", "id", ctx->id, "language", interp_language_name(ctx->language), "cwd",
                         ctx->cwd);
}

static json_t *parse_body(struct conn *c, bool empty_ok)
{
        json_error_t jerr;
        json_t *v;

        if (buf_avail(&c->body) == 0 && empty_ok)
                return json_object();
        v = json_loadb((const char *)buf_head(&c->body), buf_avail(&c->body), 0, &jerr);
        if (!v || !json_is_object(v)) {
                json_decref(v);
                reply_text(c, 422, "the request body must be a JSON object");
                return NULL;
        }
        return v;
}

/* A string field: absent and null read as NULL; another type is an error (-EINVAL). */
static int opt_string(json_t *body, const char *key, const char **ret)
{
        json_t *v = json_object_get(body, key);

        if (v && !json_is_null(v) && !json_is_string(v))
                return -EINVAL;
        *ret = json_string_value(v);
        return 0;
}

static void handle_execute(struct conn *c)
{
        json_t *body = parse_body(c, false), *env, *cmd;
        const char *code, *context_id, *language;
        _cleanup_free_ char *line = NULL;
        enum interp_language lang;
        struct interp_ctx *ctx;
        struct nb_error err = {0};
        char message[256];

        if (!body)
                return;
        env = json_object_get(body, "env_vars");
        if (opt_string(body, "code", &code) < 0 || !code || opt_string(body, "context_id", &context_id) < 0 ||
            opt_string(body, "language", &language) < 0 || (env && !json_is_null(env) && !json_is_object(env))) {
                json_decref(body);
                return reply_text(c, 422,
                                  "expected {\"code\": str, \"context_id\"?: str, \"language\"?: str, "
                                  "\"env_vars\"?: {str: str}}");
        }
        if (context_id && language) {
                json_decref(body);
                return reply_text(c, 400, "Only one of context_id or language can be provided");
        }
        if (context_id) {
                ctx = interp_ctx_find(context_id);
                if (!ctx) {
                        reply_not_found(c, context_id);
                        json_decref(body);
                        return;
                }
        } else {
                if (parse_language(language, &lang, message, sizeof(message)) < 0) {
                        /* An execution error says it where the SDK user looks: execution.error. */
                        static const char end[] = "{\"type\":\"end_of_execution\"}\n";
                        json_t *e;

                        e = json_pack("{s:s,s:s,s:s,s:s}", "type", "error", "name", "UnsupportedLanguage", "value",
                                      message, "traceback", "");
                        line = e ? json_dumps(e, JSON_COMPACT) : NULL;
                        json_decref(e);
                        json_decref(body);
                        conn_reply_head(c, 200, "application/x-ndjson", -1);
                        if (line) {
                                conn_reply_body(c, line, strlen(line));
                                conn_reply_body(c, "\n", 1);
                        }
                        conn_reply_body(c, end, strlen(end));
                        conn_reply_end(c);
                        return;
                }
                if (interp_ctx_default(c->agent, lang, &ctx, &err) < 0) {
                        log_error("interp: cannot start the default %s context: %s", interp_language_name(lang),
                                  err.message);
                        json_decref(body);
                        return reply_text(c, 500, err.message);
                }
        }
        cmd = json_pack("{s:s,s:O}", "code", code, "env_vars", env && json_is_object(env) ? env : json_null());
        line = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
        json_decref(cmd);
        json_decref(body);
        if (!line)
                return reply_text(c, 500, "out of memory");
        interp_ctx_execute(ctx, c, line);
}

static void handle_contexts_list(struct conn *c)
{
        json_t *list = json_array();
        struct interp_ctx *ctx;
        struct nb_error err = {0};

        /* The default python context exists from the start in E2B; here from first use. */
        if (interp_ctx_default(c->agent, INTERP_PYTHON, &ctx, &err) < 0)
                log_warning("interp: cannot start the default python context: %s", err.message);
        for (ctx = interp_ctx_list(); list && ctx; ctx = ctx->next)
                json_array_append_new(list, ctx_json(ctx));
        reply_json(c, 200, list);
        json_decref(list);
}

static void handle_contexts_create(struct conn *c)
{
        json_t *body = parse_body(c, true), *reply;
        const char *language, *cwd;
        _cleanup_free_ char *text = NULL;
        enum interp_language lang;
        struct interp_ctx *ctx;
        struct nb_error err = {0};
        char message[256];

        if (!body)
                return;
        if (opt_string(body, "language", &language) < 0 || opt_string(body, "cwd", &cwd) < 0) {
                json_decref(body);
                return reply_text(c, 422, "expected {\"language\"?: str, \"cwd\"?: str}");
        }
        if (parse_language(language, &lang, message, sizeof(message)) < 0) {
                json_decref(body);
                return reply_text(c, 400, message);
        }
        if (interp_ctx_new(c->agent, lang, cwd, false, &ctx, &err) < 0) {
                json_decref(body);
                return reply_text(c, err.code == -EINVAL ? 400 : 500, err.message);
        }
        json_decref(body);
        reply = ctx_json(ctx);
        text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        json_decref(reply);
        if (!text)
                return reply_text(c, 500, "out of memory");
        /* Like E2B, answer once the interpreter runs: a missing python3/node is an error here. */
        interp_ctx_reply_when_ready(ctx, c, text);
}

static void handle_context(struct conn *c, const char *rest)
{
        size_t n = strlen(rest), sn = strlen(RESTART_SUFFIX);
        bool restart = n > sn && strcmp(rest + n - sn, RESTART_SUFFIX) == 0;
        char id[INTERP_ID_LEN + 8];
        struct interp_ctx *ctx;
        struct nb_error err = {0};

        if (restart)
                n -= sn;
        if (n == 0 || n >= sizeof(id) || memchr(rest, '/', n))
                return reply_text(c, 404, "Not Found");
        memcpy(id, rest, n);
        id[n] = '\0';
        if (restart ? strcmp(c->method, "POST") != 0 : strcmp(c->method, "DELETE") != 0)
                return reply_text(c, 405, "Method Not Allowed");
        ctx = interp_ctx_find(id);
        if (!ctx)
                return reply_not_found(c, id);
        if (!restart) {
                interp_ctx_remove(ctx);
                return conn_reply(c, 200, "application/json", "null", 4);
        }
        if (interp_ctx_restart(ctx, &err) < 0)
                return reply_text(c, 500, err.message);
        interp_ctx_reply_when_ready(ctx, c, "null");
}

void interp_handle(struct conn *c)
{
        const char *path = c->path, *m = c->method;

        if (strcmp(path, "/health") == 0) {
                if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
                        return reply_text(c, 405, "Method Not Allowed");
                return conn_reply(c, 200, "application/json", "\"OK\"", 4);
        }
        if (strcmp(path, "/execute") == 0) {
                if (strcmp(m, "POST") != 0)
                        return reply_text(c, 405, "Method Not Allowed");
                return handle_execute(c);
        }
        if (strcmp(path, "/contexts") == 0) {
                if (strcmp(m, "GET") == 0)
                        return handle_contexts_list(c);
                if (strcmp(m, "POST") == 0)
                        return handle_contexts_create(c);
                return reply_text(c, 405, "Method Not Allowed");
        }
        if (strncmp(path, CONTEXTS_PREFIX, strlen(CONTEXTS_PREFIX)) == 0)
                return handle_context(c, path + strlen(CONTEXTS_PREFIX));
        reply_text(c, 404, "Not Found");
}

void interp_shutdown(void)
{
        interp_ctx_remove_all();
}
