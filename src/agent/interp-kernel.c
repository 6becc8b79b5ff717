/* Contexts and their drivers (see interp-kernel.h). A driver speaks JSON lines
 * (interp-kernel.py, interp-kernel.js): commands in, events out already shaped
 * as /execute lines, diagnostics on a third pipe. An execution's
 * job ends with the driver's end_of_execution line; a driver that dies takes
 * the running execution with it (error ContextRestarting, as Jupyter reports a
 * kernel restart) and is started again unless it never became ready. */
#include "interp-kernel.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "launch.h"
#include "log.h"
#include "macro.h"
#include "spawn.h"

/* interp_kernel_py, interp_kernel_js: generated at build time */
#include "interp-kernel-js.h"
#include "interp-kernel-py.h"

enum interp_job_kind {
        JOB_EXECUTE,
        JOB_REPLY, /* answer a request once the driver is ready */
};

struct interp_job {
        struct interp_ctx *ctx;
        struct interp_job *next;
        enum interp_job_kind kind;
        struct conn *c; /* NULL once the client went away */
        char *data;     /* JOB_EXECUTE: the command line; JOB_REPLY: the 200 body */
        struct loop_timer keepalive;
};

/* The driver splits output into 1 MiB texts; a longer line means a broken driver. */
#define INTERP_LINE_MAX (16u << 20)

/* A cell whose client left is interrupted again this often until it ends. */
#define INTERP_INTERRUPT_AGAIN_USEC (1ull * 1000000)

static struct interp_ctx *contexts;

static void ctx_run_queue(struct interp_ctx *ctx);
static void ctx_ev_event(struct loop_io *io, uint32_t events);

/* ---- jobs ------------------------------------------------------------------ */

static void job_free(struct interp_job *j)
{
        if (!j)
                return;
        loop_timer_disarm(&j->keepalive);
        if (j->c)
                conn_clear_handler(j->c);
        free(j->data);
        free(j);
}

static void job_send_line(struct interp_job *j, json_t *obj)
{
        _cleanup_free_ char *text = NULL;
        size_t n;

        if (!j->c || !obj)
                return;
        /* Re-encoding guarantees one compact line: never a blank one (§8 item 15). */
        text = json_dumps(obj, JSON_COMPACT);
        if (!text)
                return;
        n = strlen(text);
        /* jansson's buffer is exactly n + 1 long: build "<json>\n" in a new one. */
        {
                _cleanup_free_ char *line = malloc(n + 1);

                if (!line)
                        return;
                memcpy(line, text, n);
                line[n] = '\n';
                conn_reply_body(j->c, line, n + 1);
        }
}

static void job_keepalive_fire(struct loop_timer *t)
{
        struct interp_job *j = t->userdata;
        json_t *ka;

        /* Paused means the client is behind, not that the stream is silent; sending
         * then could also let drained() finish j under our feet. */
        if (!j->ctx->ev_paused) {
                ka = json_pack("{s:s}", "type", "keepalive");
                job_send_line(j, ka);
                json_decref(ka);
        }
        if (j->c)
                loop_timer_arm(j->c->agent->loop, &j->keepalive, loop_now() + INTERP_KEEPALIVE_USEC,
                               job_keepalive_fire, j);
}

static void job_send_error(struct interp_job *j, const char *name, const char *value)
{
        json_t *e = json_pack("{s:s,s:s,s:s,s:s}", "type", "error", "name", name, "value", value, "traceback", "");

        job_send_line(j, e);
        json_decref(e);
}

/* Sends end_of_execution (execute jobs) and closes the response; frees j. */
static void job_finish(struct interp_job *j)
{
        if (j->c) {
                if (j->kind == JOB_EXECUTE) {
                        json_t *end = json_pack("{s:s}", "type", "end_of_execution");

                        job_send_line(j, end);
                        json_decref(end);
                        conn_reply_end(j->c);
                } else
                        conn_reply(j->c, 200, "application/json", j->data, strlen(j->data));
        }
        job_free(j);
}

/* Fails a job that will never run: an execute gets an error line and its end,
 * a waiting request a 500 with the reason. */
static void job_fail(struct interp_job *j, const char *name, const char *message)
{
        if (j->c) {
                if (j->kind == JOB_EXECUTE)
                        job_send_error(j, name, message);
                else {
                        conn_reply(j->c, 500, "text/plain; charset=utf-8", message, strlen(message));
                        conn_clear_handler(j->c);
                        j->c = NULL;
                }
        }
        job_finish(j);
}

/* An interrupt that lands before the driver starts the cell is ignored there (it
 * cannot tell which cell it was for), and C code may swallow one: repeat it until
 * the cell ends. */
static void job_interrupt_fire(struct loop_timer *t);

static void job_interrupt(struct interp_job *j)
{
        struct interp_ctx *ctx = j->ctx;

        if (ctx->running != j || ctx->pid <= 0)
                return;
        if (kill(ctx->pid, SIGINT) < 0)
                log_debug_errno(-errno, "interp: cannot interrupt context %s: %m", ctx->id);
        loop_timer_arm(ctx->agent->loop, &j->keepalive, loop_now() + INTERP_INTERRUPT_AGAIN_USEC, job_interrupt_fire,
                       j);
}

static void job_interrupt_fire(struct loop_timer *t)
{
        job_interrupt(t->userdata);
}

static void job_conn_aborted(struct conn *c, void *userdata)
{
        struct interp_job *j = userdata;
        struct interp_ctx *ctx = j->ctx;

        (void)c;
        j->c = NULL;
        loop_timer_disarm(&j->keepalive);
        if (ctx->running != j)
                return; /* queued: dropped when its turn comes */
        /* The client left mid-execution (disconnect or its timeoutMs): interrupt the
         * cell as Jupyter's interrupt does; the context and its globals stay. */
        job_interrupt(j);
        if (ctx->ev_paused) {
                ctx->ev_paused = false;
                if (loop_io_add(ctx->agent->loop, &ctx->ev_io, ctx->ev_fd, EPOLLIN, ctx_ev_event, ctx) < 0)
                        log_error("interp: cannot watch the events of context %s", ctx->id);
        }
}

static void job_conn_drained(struct conn *c)
{
        struct interp_job *j = c->userdata;
        struct interp_ctx *ctx = j->ctx;

        if (ctx->running != j || !ctx->ev_paused || ctx->ev_fd < 0)
                return;
        ctx->ev_paused = false;
        if (loop_io_add(ctx->agent->loop, &ctx->ev_io, ctx->ev_fd, EPOLLIN, ctx_ev_event, ctx) < 0) {
                log_error("interp: cannot watch the events of context %s", ctx->id);
                return;
        }
        /* Lines read before the pause are still buffered. */
        ctx_ev_event(&ctx->ev_io, 0);
}

static const struct conn_handler job_handler = {
        .drained = job_conn_drained,
        .aborted = job_conn_aborted,
};

static struct interp_job *job_new(struct interp_ctx *ctx, struct conn *c, enum interp_job_kind kind,
                                  const char *data)
{
        struct interp_job *j = calloc(1, sizeof(*j));

        if (!j || !(j->data = strdup(data))) {
                free(j);
                return NULL;
        }
        j->ctx = ctx;
        j->kind = kind;
        j->c = c;
        conn_set_handler(c, &job_handler, j);
        return j;
}

static void ctx_enqueue(struct interp_ctx *ctx, struct interp_job *j)
{
        *ctx->queue_tail = j;
        ctx->queue_tail = &j->next;
}

static struct interp_job *ctx_dequeue(struct interp_ctx *ctx)
{
        struct interp_job *j = ctx->queue;

        if (!j)
                return NULL;
        ctx->queue = j->next;
        if (!ctx->queue)
                ctx->queue_tail = &ctx->queue;
        j->next = NULL;
        return j;
}

/* ---- the driver process --------------------------------------------------------- */

static void ctx_close_driver(struct interp_ctx *ctx)
{
        /* The whole group: the driver and whatever the user's code left running. */
        if (ctx->pid > 0 && kill(-ctx->pid, SIGKILL) < 0 && errno != ESRCH)
                log_debug_errno(-errno, "interp: cannot kill the driver of context %s: %m", ctx->id);
        loop_io_del(&ctx->cmd_io);
        loop_io_del(&ctx->ev_io);
        loop_io_del(&ctx->diag_io);
        ctx->cmd_fd = safe_close(ctx->cmd_fd);
        ctx->ev_fd = safe_close(ctx->ev_fd);
        ctx->diag_fd = safe_close(ctx->diag_fd);
        ctx->exec_fd = safe_close(ctx->exec_fd);
        buf_done(&ctx->cmd_out);
        buf_done(&ctx->ev_in);
        ctx->ev_paused = false;
        ctx->ready = false;
        ctx->pid = 0;
        /* signals.c reaps the driver; process_reaped() ignores pids it does not own. */
}

static void ctx_cmd_flush(struct interp_ctx *ctx)
{
        while (buf_avail(&ctx->cmd_out) > 0) {
                ssize_t k = write(ctx->cmd_fd, buf_head(&ctx->cmd_out), buf_avail(&ctx->cmd_out));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                /* The driver is gone; its stdout EOF tells the rest. */
                                buf_done(&ctx->cmd_out);
                        break;
                }
                buf_consume(&ctx->cmd_out, (size_t)k);
        }
        if (buf_avail(&ctx->cmd_out) == 0) {
                buf_done(&ctx->cmd_out);
                loop_io_del(&ctx->cmd_io);
        }
}

static void ctx_cmd_event(struct loop_io *io, uint32_t events)
{
        (void)events;
        ctx_cmd_flush(io->userdata);
}

#define DIAG_READ 512
_Static_assert(DIAG_READ < sizeof(((struct interp_ctx *)0)->diag), "a diag read must fit the tail");

static void ctx_diag_event(struct loop_io *io, uint32_t events)
{
        struct interp_ctx *ctx = io->userdata;
        char data[DIAG_READ];
        ssize_t k;

        (void)events;
        k = read(ctx->diag_fd, data, sizeof(data));
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (k <= 0) {
                loop_io_del(&ctx->diag_io);
                ctx->diag_fd = safe_close(ctx->diag_fd);
                return;
        }
        /* Keep the tail: the last words of a dying python are what a person needs.
         * A read is smaller than the tail (the assertion above), so it always fits. */
        if (ctx->diag_len + (size_t)k >= sizeof(ctx->diag)) {
                size_t keep = sizeof(ctx->diag) - 1 - (size_t)k;

                memmove(ctx->diag, ctx->diag + ctx->diag_len - keep, keep);
                ctx->diag_len = keep;
        }
        memcpy(ctx->diag + ctx->diag_len, data, (size_t)k);
        ctx->diag_len += (size_t)k;
        ctx->diag[ctx->diag_len] = '\0';
}

const char *interp_language_name(enum interp_language l)
{
        return l == INTERP_JAVASCRIPT   ? "javascript"
               : l == INTERP_TYPESCRIPT ? "typescript"
               : l == INTERP_BASH       ? "bash"
                                        : "python";
}

static bool ctx_runs_node(const struct interp_ctx *ctx)
{
        return ctx->language == INTERP_JAVASCRIPT || ctx->language == INTERP_TYPESCRIPT;
}

static const char *ctx_program(const struct interp_ctx *ctx)
{
        return ctx_runs_node(ctx) ? "node" : "python3";
}

static int ctx_spawn(struct interp_ctx *ctx, struct nb_error *err)
{
        /* python3 moves its own fds around (see interp-kernel.py). node cannot dup2,
         * so sh hands it commands on fd 3, events on fd 4, and stdin /dev/null, with
         * fds 1 and 2 on the diagnostics pipe (so a child's raw output cannot
         * corrupt the event stream). */
        char *py_args[] = {(char *)"-u", (char *)"-c", (char *)interp_kernel_py, (char *)"bash"};
        /* The script is $1, not $0: sh prefixes its own errors with $0 ("node: not found"). */
        char *js_args[] = {(char *)"-c", (char *)"exec node -e \"$1\" \"$2\" 3<&0 4>&1 </dev/null >&2",
                           (char *)"nestbox-js", (char *)interp_kernel_js,
                           (char *)interp_language_name(ctx->language)};
        Process__ProcessConfig cfg = PROCESS__PROCESS_CONFIG__INIT;
        Process__StartRequest req = PROCESS__START_REQUEST__INIT;
        struct spawn_result sr;
        enum connect_code code;
        int r;

        if (ctx_runs_node(ctx)) {
                cfg.cmd = (char *)"/bin/sh";
                cfg.args = js_args;
                cfg.n_args = ELEMENTSOF(js_args);
        } else {
                cfg.cmd = (char *)"python3";
                cfg.args = py_args;
                /* The extra argument makes the driver run bash cells (interp-bash.py). */
                cfg.n_args = ctx->language == INTERP_BASH ? ELEMENTSOF(py_args) : ELEMENTSOF(py_args) - 1;
        }
        cfg.cwd = ctx->cwd;
        req.process = &cfg;
        req.has_stdin = true;
        req.stdin = true;
        r = launch_start(ctx->agent, NULL, &req, &sr, &code, err);
        if (r < 0)
                return r;
        ctx->pid = sr.pid;
        ctx->cmd_fd = sr.stdin_fd;
        ctx->ev_fd = sr.stdout_fd;
        ctx->diag_fd = sr.stderr_fd;
        ctx->exec_fd = sr.exec_fd;
        ctx->ready = false;
        ctx->diag_len = 0;
        ctx->diag[0] = '\0';
        if (loop_io_add(ctx->agent->loop, &ctx->ev_io, ctx->ev_fd, EPOLLIN, ctx_ev_event, ctx) < 0 ||
            loop_io_add(ctx->agent->loop, &ctx->diag_io, ctx->diag_fd, EPOLLIN, ctx_diag_event, ctx) < 0) {
                ctx_close_driver(ctx);
                return nb_error_set(err, -ENOMEM, "cannot watch the python driver's pipes");
        }
        log_debug("interp: context %s started %s as pid %d", ctx->id, ctx_program(ctx), (int)ctx->pid);
        return 0;
}

/* EOF on the driver's stdout: it exited (or was killed). */
static void ctx_driver_died(struct interp_ctx *ctx)
{
        char exec_error[512], message[1400];
        bool was_ready = ctx->ready;
        struct interp_job *j;
        struct nb_error err = {0};

        /* The driver is gone, so everything it wrote is already in the diagnostics pipe
         * (non-blocking): read it before judging why it died. */
        for (int i = 0; i < 64 && ctx->diag_fd >= 0; i++)
                ctx_diag_event(&ctx->diag_io, EPOLLIN);
        spawn_read_exec_error(ctx->exec_fd, exec_error, sizeof(exec_error));
        if (exec_error[0])
                snprintf(message, sizeof(message),
                         "cannot start %s for context %s: %s (the code interpreter needs %s in the template, "
                         "e.g. code-interpreter-v1 or base)",
                         ctx_program(ctx), ctx->id, exec_error, ctx_program(ctx));
        else if (!was_ready && ctx_runs_node(ctx) && strstr(ctx->diag, "not found"))
                /* sh found, node not: sh says so on the diagnostics pipe. */
                snprintf(message, sizeof(message),
                         "cannot start node for context %s: %s (the code interpreter needs node in the template, "
                         "e.g. code-interpreter-v1 or base)",
                         ctx->id, ctx->diag);
        else
                snprintf(message, sizeof(message), "the %s process of context %s exited%s%s", ctx_program(ctx),
                         ctx->id, ctx->diag_len ? ": " : "", ctx->diag);
        log_info("interp: %s", message);
        ctx_close_driver(ctx);

        j = TAKE_PTR(ctx->running);
        if (j)
                job_fail(j, "ContextRestarting", message);
        if (was_ready) {
                /* Jupyter restarts a dead kernel by itself; so do we, globals are lost. */
                if (ctx_spawn(ctx, &err) >= 0)
                        return;
                snprintf(message, sizeof(message), "cannot restart context %s: %s", ctx->id, err.message);
        }
        /* It never came up (no python3, a bad cwd): fail what waits; the next request
         * tries again. */
        while ((j = ctx_dequeue(ctx)))
                job_fail(j, "ContextStartFailed", message);
}

static void ctx_handle_line(struct interp_ctx *ctx, const char *line, size_t n)
{
        json_error_t jerr;
        json_t *obj = json_loadb(line, n, 0, &jerr);
        const char *type = json_string_value(json_object_get(obj, "type"));
        struct interp_job *j = ctx->running;

        if (!type) {
                log_debug("interp: context %s: bad driver line: %s", ctx->id, jerr.text);
        } else if (strcmp(type, "ready") == 0) {
                ctx->ready = true;
                ctx_run_queue(ctx);
        } else if (strcmp(type, "end_of_execution") == 0) {
                if (j) {
                        ctx->running = NULL;
                        job_finish(j);
                }
                ctx_run_queue(ctx);
        } else if (j && j->c) {
                job_send_line(j, obj);
                loop_timer_arm(ctx->agent->loop, &j->keepalive, loop_now() + INTERP_KEEPALIVE_USEC,
                               job_keepalive_fire, j);
        }
        json_decref(obj);
}

static void ctx_ev_event(struct loop_io *io, uint32_t events)
{
        struct interp_ctx *ctx = io->userdata;
        char *nl;

        if (events) {
                ssize_t k;

                if (buf_reserve(&ctx->ev_in, 64u << 10) < 0) {
                        log_error("interp: out of memory reading context %s", ctx->id);
                        return;
                }
                k = read(ctx->ev_fd, ctx->ev_in.data + ctx->ev_in.len, 64u << 10);
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (k <= 0) {
                        ctx_driver_died(ctx);
                        return;
                }
                ctx->ev_in.len += (size_t)k;
                if (buf_avail(&ctx->ev_in) > INTERP_LINE_MAX &&
                    !memchr(buf_head(&ctx->ev_in), '\n', buf_avail(&ctx->ev_in))) {
                        /* The driver splits big outputs; this is not our driver talking. */
                        log_error("interp: context %s sent a line over %u bytes, killing its driver", ctx->id,
                                  INTERP_LINE_MAX);
                        ctx_driver_died(ctx);
                        return;
                }
        }
        while (!ctx->ev_paused && ctx->ev_fd >= 0 &&
               (nl = memchr(buf_head(&ctx->ev_in), '\n', buf_avail(&ctx->ev_in)))) {
                size_t n = (size_t)(nl - (char *)buf_head(&ctx->ev_in));
                struct interp_job *j;

                ctx_handle_line(ctx, (const char *)buf_head(&ctx->ev_in), n);
                if (ctx->ev_fd < 0)
                        return; /* the context went away while handling the line */
                buf_consume(&ctx->ev_in, n + 1);
                j = ctx->running;
                if (j && j->c && conn_pending(j->c) > CONN_HIGH_WATER) {
                        /* A slow client: stop reading, so the driver blocks in its print(). */
                        ctx->ev_paused = true;
                        loop_io_del(&ctx->ev_io);
                }
        }
        if (buf_avail(&ctx->ev_in) == 0)
                buf_done(&ctx->ev_in);
}

static void ctx_send_command(struct interp_ctx *ctx, const char *cmd)
{
        if (buf_append(&ctx->cmd_out, cmd, strlen(cmd)) < 0 || buf_append(&ctx->cmd_out, "\n", 1) < 0) {
                log_error("interp: out of memory queueing a command for context %s", ctx->id);
                return;
        }
        ctx_cmd_flush(ctx);
        if (buf_avail(&ctx->cmd_out) > 0 && !ctx->cmd_io.loop &&
            loop_io_add(ctx->agent->loop, &ctx->cmd_io, ctx->cmd_fd, EPOLLOUT, ctx_cmd_event, ctx) < 0)
                log_error("interp: cannot watch the stdin of context %s", ctx->id);
}

static void ctx_run_queue(struct interp_ctx *ctx)
{
        struct nb_error err = {0};
        struct interp_job *j;

        if (ctx->running)
                return;
        if (ctx->pid == 0 && ctx->queue) {
                /* A driver that failed to start is tried again by the next request. */
                if (ctx_spawn(ctx, &err) < 0) {
                        while ((j = ctx_dequeue(ctx)))
                                job_fail(j, "ContextStartFailed", err.message);
                        return;
                }
        }
        while (ctx->ready && !ctx->running && (j = ctx_dequeue(ctx))) {
                if (!j->c) {
                        job_free(j); /* the client left while queued */
                        continue;
                }
                if (j->kind == JOB_REPLY) {
                        job_finish(j);
                        continue;
                }
                ctx->running = j;
                ctx_send_command(ctx, j->data);
        }
}

/* ---- contexts -------------------------------------------------------------------- */

static void uuid4(char out[INTERP_ID_LEN + 1])
{
        uint8_t b[16];
        size_t got = 0;

        while (got < sizeof(b)) {
                ssize_t k = getrandom(b + got, sizeof(b) - got, 0);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        /* No entropy source: still unique enough within one sandbox. */
                        uint64_t t = loop_now() ^ ((uint64_t)getpid() << 32);

                        for (size_t i = got; i < sizeof(b); i++, t = t * 6364136223846793005ull + 1)
                                b[i] = (uint8_t)(t >> 33);
                        break;
                }
                got += (size_t)k;
        }
        b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
        b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
        snprintf(out, INTERP_ID_LEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void ctx_free(struct interp_ctx *ctx)
{
        if (!ctx)
                return;
        ctx_close_driver(ctx);
        free(ctx->cwd);
        free(ctx);
}

int interp_ctx_new(struct agent *a, enum interp_language language, const char *cwd, bool is_default,
                   struct interp_ctx **ret, struct nb_error *err)
{
        struct interp_ctx *ctx = calloc(1, sizeof(*ctx));
        struct user u = {0};
        enum connect_code code;
        int r;

        if (!ctx)
                return nb_error_oom(err);
        ctx->agent = a;
        ctx->language = language;
        ctx->is_default = is_default;
        ctx->cmd_fd = ctx->ev_fd = ctx->diag_fd = ctx->exec_fd = -EBADF;
        ctx->cmd_io.fd = ctx->ev_io.fd = ctx->diag_io.fd = -EBADF;
        ctx->queue_tail = &ctx->queue;
        uuid4(ctx->id);

        /* Resolved now so that the reply names the directory the code runs in. */
        r = launch_resolve_user(a, NULL, &u, &code, err);
        if (r < 0)
                goto fail;
        r = launch_resolve_path(cwd, u.home, a->default_workdir, &ctx->cwd);
        user_done(&u);
        if (r < 0) {
                r = nb_error_oom(err);
                goto fail;
        }
        r = ctx_spawn(ctx, err);
        if (r < 0)
                goto fail;
        ctx->next = contexts;
        contexts = ctx;
        *ret = ctx;
        return 0;
fail:
        ctx_free(ctx);
        return r;
}

struct interp_ctx *interp_ctx_find(const char *id)
{
        for (struct interp_ctx *ctx = contexts; ctx; ctx = ctx->next)
                if (strcmp(ctx->id, id) == 0)
                        return ctx;
        return NULL;
}

struct interp_ctx *interp_ctx_list(void)
{
        return contexts;
}

int interp_ctx_default(struct agent *a, enum interp_language language, struct interp_ctx **ret,
                       struct nb_error *err)
{
        for (struct interp_ctx *ctx = contexts; ctx; ctx = ctx->next)
                if (ctx->is_default && ctx->language == language) {
                        *ret = ctx;
                        return 0;
                }
        return interp_ctx_new(a, language, NULL, true, ret, err);
}

void interp_ctx_execute(struct interp_ctx *ctx, struct conn *c, const char *cmd)
{
        struct interp_job *j = job_new(ctx, c, JOB_EXECUTE, cmd);

        if (!j)
                return conn_reply_error(c, 500, "out of memory");
        /* Headers go out now, as E2B's server does; the lines follow in turn. */
        conn_reply_head(c, 200, "application/x-ndjson", -1);
        loop_timer_arm(ctx->agent->loop, &j->keepalive, loop_now() + INTERP_KEEPALIVE_USEC, job_keepalive_fire, j);
        ctx_enqueue(ctx, j);
        ctx_run_queue(ctx);
}

void interp_ctx_reply_when_ready(struct interp_ctx *ctx, struct conn *c, const char *body)
{
        struct interp_job *j = job_new(ctx, c, JOB_REPLY, body);

        if (!j)
                return conn_reply_error(c, 500, "out of memory");
        ctx_enqueue(ctx, j);
        ctx_run_queue(ctx);
}

int interp_ctx_restart(struct interp_ctx *ctx, struct nb_error *err)
{
        struct interp_job *j;
        int r;

        ctx_close_driver(ctx);
        j = TAKE_PTR(ctx->running);
        if (j)
                job_fail(j, "ContextRestarting", "the context was restarted during this execution");
        /* Queued executions run in the fresh process. */
        r = ctx_spawn(ctx, err);
        if (r < 0)
                while ((j = ctx_dequeue(ctx)))
                        job_fail(j, "ContextStartFailed", err->message);
        return r;
}

void interp_ctx_remove(struct interp_ctx *ctx)
{
        struct interp_job *j;

        for (struct interp_ctx **p = &contexts; *p; p = &(*p)->next)
                if (*p == ctx) {
                        *p = ctx->next;
                        break;
                }
        ctx_close_driver(ctx);
        j = TAKE_PTR(ctx->running);
        if (j)
                job_fail(j, "ContextRemoved", "the context was removed during this execution");
        while ((j = ctx_dequeue(ctx)))
                job_fail(j, "ContextRemoved", "the context was removed before this execution started");
        ctx_free(ctx);
}

void interp_ctx_remove_all(void)
{
        while (contexts)
                interp_ctx_remove(contexts);
}
