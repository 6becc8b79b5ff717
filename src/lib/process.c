/* Processes and PTYs in a sandbox through envd's process service (protocol.md
 * §3.4, §3.7). The output stream (Start, server streaming) runs on its own curl
 * multi handle so that start can return as soon as the pid is known and wait
 * can pick up from there; the unary calls (SendInput, Update, SendSignal,
 * CloseStdin) use a second handle behind a mutex, so one thread can wait while
 * another types, resizes or kills. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../wire/base64.h"
#include "../wire/connect.h"
#include "lib.h"

struct nestbox_process {
        nestbox_sandbox *sb; /* borrowed */
        bool pty;
        bool started;
        uint32_t pid;

        /* The Start stream. */
        CURLM *multi;
        CURL *stream;
        struct curl_slist *headers;
        struct buf request; /* the one request envelope; must outlive the transfer */
        char *url;
        char errbuf[CURL_ERROR_SIZE];
        char *content_type;
        long http_status; /* 0 until the first body byte */
        bool stream_ok;   /* 200 + application/connect+json */
        bool too_big;     /* our write callback refused an envelope */
        struct buf in;    /* received stream bytes not yet decoded */
        struct buf error_body;
        bool transfer_done;
        CURLcode transfer_result;
        bool eos; /* end-of-stream envelope seen */
        int eos_r;
        nestbox_error eos_err;
        bool ended; /* end event seen */
        bool exited;
        int exit_code;
        char *status;
        atomic_bool cancel;

        /* Set for the duration of a wait. */
        nestbox_output_fn on_output;
        void *userdata;

        /* Unary calls. */
        pthread_mutex_t ctl_lock;
        CURL *ctl;
};

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

_public_ nestbox_process *nestbox_process_free(nestbox_process *p)
{
        if (!p)
                return NULL;
        if (p->multi && p->stream)
                curl_multi_remove_handle(p->multi, p->stream);
        if (p->stream)
                curl_easy_cleanup(p->stream);
        if (p->multi)
                curl_multi_cleanup(p->multi);
        if (p->ctl)
                curl_easy_cleanup(p->ctl);
        pthread_mutex_destroy(&p->ctl_lock);
        curl_slist_free_all(p->headers);
        buf_done(&p->request);
        buf_done(&p->in);
        buf_done(&p->error_body);
        free(p->url);
        free(p->content_type);
        free(p->status);
        free(p);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(nestbox_process *, nestbox_process_free);

static size_t on_stream_header(char *data, size_t size, size_t n, void *userdata)
{
        nestbox_process *p = userdata;
        size_t len = size * n;

        if (len > 13 && strncasecmp(data, "content-type:", 13) == 0) {
                const char *v = data + 13, *end = data + len;

                while (v < end && (*v == ' ' || *v == '\t'))
                        v++;
                while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                        end--;
                free(p->content_type);
                p->content_type = strndup(v, (size_t)(end - v));
        }
        return len;
}

static size_t on_stream_body(char *data, size_t size, size_t n, void *userdata)
{
        nestbox_process *p = userdata;
        size_t len = size * n;

        if (p->http_status == 0) {
                curl_easy_getinfo(p->stream, CURLINFO_RESPONSE_CODE, &p->http_status);
                p->stream_ok = p->http_status == 200 && p->content_type &&
                               strncasecmp(p->content_type, "application/connect+json", 24) == 0;
        }
        if (!p->stream_ok) {
                /* An error answer: keep its start for the message. */
                size_t keep =
                        p->error_body.len < LIB_ERROR_BODY_MAX ? LIB_ERROR_BODY_MAX - p->error_body.len : 0;

                if (keep > len)
                        keep = len;
                if (keep > 0 && buf_append(&p->error_body, data, keep) < 0)
                        return 0;
                return len;
        }
        /* Undecoded bytes never exceed one maximal envelope plus this chunk:
         * the decoder runs after every perform. */
        if (buf_avail(&p->in) > CONNECT_ENVELOPE_HEADER_SIZE + CONNECT_ENVELOPE_MAX) {
                p->too_big = true;
                return 0;
        }
        if (buf_append(&p->in, data, len) < 0)
                return 0;
        return len;
}

/* Decodes the buffered envelopes. until_start: stop after the start event.
 * Returns 1 when that goal (or the end of stream) is reached, 0 when more bytes
 * are needed, or an error. */
static int process_decode(nestbox_process *p, bool until_start, nestbox_error *err)
{
        struct lib_envelope env;
        int r;

        while (!p->eos) {
                struct lib_process_event ev = {0};

                r = lib_envelope_next(&p->in, &env, err);
                if (r <= 0)
                        return r;
                if (env.flags & CONNECT_FLAG_END_STREAM) {
                        p->eos = true;
                        p->eos_r = lib_end_stream_parse(env.payload, env.len, &p->eos_err);
                        return 1;
                }
                r = lib_process_event_parse(env.payload, env.len, &ev, err);
                if (r < 0)
                        return r;
                if (!p->started && ev.kind != LIB_EVENT_START) {
                        lib_process_event_done(&ev);
                        return lib_error_set(err, -EPROTO, 200, "Expected start event");
                }
                switch (ev.kind) {
                case LIB_EVENT_START:
                        if (!p->started) {
                                p->started = true;
                                p->pid = ev.pid;
                        }
                        lib_process_event_done(&ev);
                        if (until_start)
                                return 1;
                        break;
                case LIB_EVENT_DATA:
                        r = p->on_output && ev.data.len > 0
                                    ? p->on_output(ev.stream, (const char *)ev.data.data, ev.data.len,
                                                   p->userdata)
                                    : 0;
                        lib_process_event_done(&ev);
                        if (r < 0)
                                return lib_error_set(err, r, 0, "the output callback failed: %s",
                                                     strerror(-r));
                        break;
                case LIB_EVENT_END:
                        p->ended = true;
                        p->exited = ev.exited;
                        p->exit_code = ev.exit_code;
                        free(p->status);
                        p->status = TAKE_PTR(ev.status);
                        lib_process_event_done(&ev);
                        break;
                default:
                        lib_process_event_done(&ev);
                        break;
                }
        }
        return 1;
}

/* The stream ended without an end-of-stream envelope: say why. */
static int process_transfer_error(nestbox_process *p, nestbox_error *err)
{
        if (p->too_big)
                return lib_error_set(err, -EPROTO, 200,
                                     "protocol error: a stream message is larger than %u bytes",
                                     CONNECT_ENVELOPE_MAX);
        if (p->transfer_result != CURLE_OK && p->http_status == 0)
                return lib_error_from_curl(p->transfer_result, p->errbuf, p->url, err);
        if (p->http_status == 0)
                curl_easy_getinfo(p->stream, CURLINFO_RESPONSE_CODE, &p->http_status);
        if (p->http_status != 200)
                /* connect-es maps a non-200 stream by its status; the body's message,
                 * when JSON has one, is more useful than "HTTP 502". */
                return lib_rpc_error(p->http_status, "application/json", (const char *)p->error_body.data,
                                     p->error_body.len, err);
        if (!p->stream_ok && p->content_type)
                return lib_error_set(err, -EPROTO, 200, "protocol error: unsupported content type '%.64s'",
                                     p->content_type);
        if (p->transfer_result != CURLE_OK)
                /* A dropped connection: the SDK's "terminated". */
                return lib_error_from_curl(p->transfer_result, p->errbuf, p->url, err);
        return lib_error_set(err, -EPROTO, 200, "protocol error: missing EndStreamResponse");
}

/* Moves the stream forward until the start event (until_start) or its end. */
static int process_pump(nestbox_process *p, bool until_start, uint64_t deadline_ms, nestbox_error *err)
{
        uint64_t last_rx = now_ms();
        int r;

        for (;;) {
                size_t before;
                CURLMsg *msg;
                int running, left;
                CURLMcode mc;

                r = process_decode(p, until_start, err);
                if (r != 0)
                        return r < 0 ? r : 0;
                if (p->transfer_done)
                        return process_transfer_error(p, err);
                /* A cancel is consumed by the wait it stops, so a later wait works. */
                if (atomic_exchange(&p->cancel, false))
                        return lib_error_set(err, -ECANCELED, 0, "canceled");
                if (deadline_ms && now_ms() > deadline_ms)
                        return lib_error_set(err, -ETIMEDOUT, 0, "Request handshake timed out after %d ms",
                                             LIB_API_TIMEOUT_MS);
                /* envd sends a keepalive every LIB_KEEPALIVE_INTERVAL_S: silence for
                 * much longer means the connection is dead. */
                if (now_ms() - last_rx > (uint64_t)LIB_STREAM_IDLE_S * 1000)
                        return lib_error_set(err, -ETIMEDOUT, 0, "no data from the sandbox for %d s",
                                             LIB_STREAM_IDLE_S);

                before = p->in.len + p->error_body.len;
                mc = curl_multi_perform(p->multi, &running);
                if (mc != CURLM_OK)
                        return lib_error_set(err, mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO, 0, "curl: %s",
                                             curl_multi_strerror(mc));
                while ((msg = curl_multi_info_read(p->multi, &left)))
                        if (msg->msg == CURLMSG_DONE) {
                                p->transfer_done = true;
                                p->transfer_result = msg->data.result;
                        }
                if (p->in.len + p->error_body.len != before) {
                        last_rx = now_ms();
                        continue;
                }
                if (!p->transfer_done && running) {
                        mc = curl_multi_poll(p->multi, NULL, 0, 1000, NULL);
                        if (mc != CURLM_OK)
                                return lib_error_set(err, -EIO, 0, "curl: %s", curl_multi_strerror(mc));
                }
        }
}

static int json_set_strv(json_t *o, const char *key, char *const *v)
{
        json_t *a = json_array();

        if (!a)
                return -ENOMEM;
        for (; v && *v; v++)
                if (json_array_append_new(a, json_string(*v)) < 0) {
                        json_decref(a);
                        return -ENOMEM;
                }
        return json_object_set_new(o, key, a) < 0 ? -ENOMEM : 0;
}

/* StartRequest JSON as the SDK sends it (§3.4). */
static json_t *start_request(char *const *argv, const nestbox_process_opts *opts, bool pty, unsigned cols,
                             unsigned rows, const struct lib_kv_list *envs)
{
        _cleanup_json_ json_t *req = json_object(), *proc = json_object();
        json_t *e;

        if (!req || !proc)
                return NULL;
        if (json_object_set_new(proc, "cmd", json_string(argv[0])) < 0 ||
            json_set_strv(proc, "args", argv + 1) < 0)
                return NULL;
        if (envs->n > 0) {
                e = lib_kv_to_json(envs);
                if (!e || json_object_set_new(proc, "envs", e) < 0)
                        return NULL;
        }
        if (opts && opts->cwd && json_object_set_new(proc, "cwd", json_string(opts->cwd)) < 0)
                return NULL;
        if (json_object_set(req, "process", proc) < 0)
                return NULL;
        if (pty) {
                e = json_pack("{s:{s:I, s:I}}", "size", "cols", (json_int_t)cols, "rows", (json_int_t)rows);
                if (!e || json_object_set_new(req, "pty", e) < 0)
                        return NULL;
        } else if (json_object_set_new(req, "stdin", json_boolean(opts && opts->stdin_open)) < 0) {
                return NULL;
        }
        return json_incref(req);
}

static int process_start(nestbox_sandbox *sb, char *const *argv, const nestbox_process_opts *opts, bool pty,
                         unsigned cols, unsigned rows, const struct lib_kv_list *envs, nestbox_process **ret,
                         nestbox_error *err)
{
        _cleanup_(nestbox_process_freep) nestbox_process *p = NULL;
        _cleanup_json_ json_t *req = NULL;
        _cleanup_free_ char *text = NULL;
        unsigned timeout_ms = opts ? opts->timeout_ms : LIB_PROCESS_TIMEOUT_MS;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return lib_oom(err);
        pthread_mutex_init(&p->ctl_lock, NULL);
        atomic_init(&p->cancel, false);
        p->sb = sb;
        p->pty = pty;

        req = start_request(argv, opts, pty, cols, rows, envs);
        text = req ? json_dumps(req, JSON_COMPACT) : NULL;
        if (!text)
                return lib_oom(err);
        r = connect_envelope_append(&p->request, 0, text, strlen(text));
        if (r < 0)
                return r == -ENOMEM ? lib_oom(err)
                                    : lib_error_set(err, -EINVAL, 0, "the command is too large");
        if (asprintf(&p->url, "%s/process.Process/Start", sb->envd_url) < 0) {
                p->url = NULL;
                return lib_oom(err);
        }
        r = lib_envd_headers(sb, true, opts ? opts->user : NULL, timeout_ms, &p->headers);
        if (r < 0)
                return lib_oom(err);

        p->multi = curl_multi_init();
        p->stream = curl_easy_init();
        p->ctl = curl_easy_init();
        if (!p->multi || !p->stream || !p->ctl)
                return lib_oom(err);
        curl_easy_setopt(p->stream, CURLOPT_URL, p->url);
        curl_easy_setopt(p->stream, CURLOPT_POST, 1L);
        curl_easy_setopt(p->stream, CURLOPT_POSTFIELDS, (const char *)p->request.data);
        curl_easy_setopt(p->stream, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->request.len);
        curl_easy_setopt(p->stream, CURLOPT_HTTPHEADER, p->headers);
        curl_easy_setopt(p->stream, CURLOPT_USERAGENT, LIB_USER_AGENT);
        curl_easy_setopt(p->stream, CURLOPT_WRITEFUNCTION, on_stream_body);
        curl_easy_setopt(p->stream, CURLOPT_WRITEDATA, p);
        curl_easy_setopt(p->stream, CURLOPT_HEADERFUNCTION, on_stream_header);
        curl_easy_setopt(p->stream, CURLOPT_HEADERDATA, p);
        curl_easy_setopt(p->stream, CURLOPT_ERRORBUFFER, p->errbuf);
        curl_easy_setopt(p->stream, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(p->stream, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(p->stream, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        curl_easy_setopt(p->stream, CURLOPT_TCP_KEEPALIVE, 1L);
        /* Deliver PTY bytes as they come, not in filled buffers. */
        curl_easy_setopt(p->stream, CURLOPT_TCP_NODELAY, 1L);
        if (curl_multi_add_handle(p->multi, p->stream) != CURLM_OK)
                return lib_oom(err);

        r = process_pump(p, true, now_ms() + LIB_API_TIMEOUT_MS, err);
        if (r < 0) {
                /* The SDK's handleProcessStartEvent: "unavailable" on the first read
                 * means the sandbox is gone. */
                if (err && r == -ETIMEDOUT && strncmp(err->message, "[unavailable]", 13) == 0)
                        return lib_error_set(err, -ENOENT, err->http_status,
                                             "Sandbox is probably not running anymore");
                return r;
        }
        if (!p->started) {
                /* The stream ended before any event: its end-of-stream error says why. */
                if (p->eos && p->eos_r < 0) {
                        if (err)
                                *err = p->eos_err;
                        return p->eos_r;
                }
                return lib_error_set(err, -EPROTO, 200, "Expected start event");
        }
        *ret = TAKE_PTR(p);
        return 0;
}

static int check_argv(const char *const *argv, nestbox_error *err)
{
        if (!argv || !argv[0] || !argv[0][0])
                return lib_error_set(err, -EINVAL, 0, "a command is required");
        return 0;
}

_public_ int nestbox_process_start(nestbox_sandbox *sb, const char *const *argv,
                                   const nestbox_process_opts *opts, nestbox_process **ret,
                                   nestbox_error *err)
{
        int r;

        if (!sb || !ret)
                return lib_error_set(err, -EINVAL, 0, "sandbox and ret must not be NULL");
        r = check_argv(argv, err);
        if (r < 0)
                return r;
        return process_start(sb, (char *const *)argv, opts, false, 0, 0,
                             opts ? &opts->envs : &(struct lib_kv_list){0}, ret, err);
}

_public_ int nestbox_command_start(nestbox_sandbox *sb, const char *cmd, const nestbox_process_opts *opts,
                                   nestbox_process **ret, nestbox_error *err)
{
        const char *argv[] = {"/bin/bash", "-l", "-c", cmd, NULL};

        if (!cmd)
                return lib_error_set(err, -EINVAL, 0, "a command is required");
        return nestbox_process_start(sb, argv, opts, ret, err);
}

_public_ int nestbox_command_run(nestbox_sandbox *sb, const char *cmd, const nestbox_process_opts *opts,
                                 nestbox_output_fn on_output, void *userdata, int *ret_exit_code,
                                 nestbox_error *err)
{
        _cleanup_(nestbox_process_freep) nestbox_process *p = NULL;
        int r;

        r = nestbox_command_start(sb, cmd, opts, &p, err);
        if (r < 0)
                return r;
        return nestbox_process_wait(p, on_output, userdata, ret_exit_code, err);
}

_public_ int nestbox_pty_create(nestbox_sandbox *sb, unsigned cols, unsigned rows,
                                const nestbox_process_opts *opts, nestbox_process **ret, nestbox_error *err)
{
        static const char *const shell[] = {"/bin/bash", "-i", "-l", NULL};
        struct lib_kv_list envs = {0};
        int r;

        if (!sb || !ret)
                return lib_error_set(err, -EINVAL, 0, "sandbox and ret must not be NULL");
        if (cols == 0 || rows == 0 || cols > 0xffff || rows > 0xffff)
                return lib_error_set(err, -EINVAL, 0, "a PTY needs 1..65535 columns and rows, not %ux%u",
                                     cols, rows);
        /* The SDK's pty.create: {TERM, LANG, LC_ALL, ...envs}. */
        r = lib_kv_set(&envs, "TERM", "xterm-256color");
        if (r >= 0)
                r = lib_kv_set(&envs, "LANG", "C.UTF-8");
        if (r >= 0)
                r = lib_kv_set(&envs, "LC_ALL", "C.UTF-8");
        for (size_t i = 0; r >= 0 && opts && i < opts->envs.n; i++)
                r = lib_kv_set(&envs, opts->envs.items[i].key, opts->envs.items[i].value);
        if (r < 0) {
                lib_kv_done(&envs);
                return lib_oom(err);
        }
        r = process_start(sb, opts && opts->argv ? opts->argv : (char *const *)shell, opts, true, cols, rows,
                          &envs, ret, err);
        lib_kv_done(&envs);
        return r;
}

_public_ uint32_t nestbox_process_pid(const nestbox_process *p)
{
        return p ? p->pid : 0;
}

_public_ int nestbox_process_wait(nestbox_process *p, nestbox_output_fn on_output, void *userdata,
                                  int *ret_exit_code, nestbox_error *err)
{
        int r;

        if (!p)
                return lib_error_set(err, -EINVAL, 0, "process must not be NULL");
        p->on_output = on_output;
        p->userdata = userdata;
        r = process_pump(p, false, 0, err);
        p->on_output = NULL;
        p->userdata = NULL;
        if (r < 0)
                return r;
        if (p->eos_r < 0) {
                if (err)
                        *err = p->eos_err;
                return p->eos_r;
        }
        if (!p->ended)
                return lib_error_set(err, -EIO, 200, "Process exited without a result");
        if (ret_exit_code)
                *ret_exit_code = lib_exit_code(p->exited, p->exit_code, p->status);
        return 0;
}

_public_ const char *nestbox_process_status(const nestbox_process *p)
{
        return p ? p->status : NULL;
}

_public_ void nestbox_process_cancel(nestbox_process *p)
{
        if (!p)
                return;
        atomic_store(&p->cancel, true);
        curl_multi_wakeup(p->multi);
}

/* One unary call about this process: {"process":{"pid":N}, ...extra}. */
static int process_call(nestbox_process *p, const char *method, json_t *extra, json_t **ret_resp,
                        nestbox_error *err)
{
        _cleanup_json_ json_t *req = NULL;
        int r;

        req = json_pack("{s:{s:I}}", "process", "pid", (json_int_t)p->pid);
        if (!req || (extra && json_object_update(req, extra) < 0))
                return lib_oom(err);
        pthread_mutex_lock(&p->ctl_lock);
        r = lib_rpc_unary(p->sb, p->ctl, method, req, NULL, ret_resp, err);
        pthread_mutex_unlock(&p->ctl_lock);
        return r;
}

_public_ int nestbox_process_send_input(nestbox_process *p, const void *data, size_t len, nestbox_error *err)
{
        _cleanup_(buf_done) struct buf b64 = {0};
        _cleanup_json_ json_t *extra = NULL;

        if (!p || (!data && len > 0))
                return lib_error_set(err, -EINVAL, 0, "process and data must not be NULL");
        if (base64_encode(data, len, &b64) < 0 || buf_append(&b64, "", 1) < 0)
                return lib_oom(err);
        extra = json_pack("{s:{s:s}}", "input", p->pty ? "pty" : "stdin", (const char *)b64.data);
        if (!extra)
                return lib_oom(err);
        return process_call(p, "SendInput", extra, NULL, err);
}

_public_ int nestbox_process_close_stdin(nestbox_process *p, nestbox_error *err)
{
        if (!p)
                return lib_error_set(err, -EINVAL, 0, "process must not be NULL");
        return process_call(p, "CloseStdin", NULL, NULL, err);
}

_public_ int nestbox_process_resize(nestbox_process *p, unsigned cols, unsigned rows, nestbox_error *err)
{
        _cleanup_json_ json_t *extra = NULL;

        if (!p)
                return lib_error_set(err, -EINVAL, 0, "process must not be NULL");
        if (cols == 0 || rows == 0 || cols > 0xffff || rows > 0xffff)
                return lib_error_set(err, -EINVAL, 0, "a PTY needs 1..65535 columns and rows, not %ux%u",
                                     cols, rows);
        extra = json_pack("{s:{s:{s:I, s:I}}}", "pty", "size", "cols", (json_int_t)cols, "rows",
                          (json_int_t)rows);
        if (!extra)
                return lib_oom(err);
        return process_call(p, "Update", extra, NULL, err);
}

_public_ int nestbox_process_kill(nestbox_process *p, nestbox_error *err)
{
        _cleanup_json_ json_t *extra = NULL;
        nestbox_error e = {0};
        int r;

        if (!p)
                return lib_error_set(err, -EINVAL, 0, "process must not be NULL");
        extra = json_pack("{s:s}", "signal", "SIGNAL_SIGKILL");
        if (!extra)
                return lib_oom(err);
        r = process_call(p, "SendSignal", extra, NULL, &e);
        if (r == -ENOENT)
                return 0; /* the SDK's kill() returns false on not_found */
        if (r < 0) {
                if (err)
                        *err = e;
                return r;
        }
        return 1;
}
