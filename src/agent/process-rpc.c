/* Start, Connect and List (see process-rpc.h). */
#include "process-rpc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../wire/jsonstr.h"
#include "launch.h"
#include "log.h"
#include "process.h"
#include "stream.h"

#define DECODE(r, type, desc, var) (rpc_decode((r), &(desc), (ProtobufCMessage **)&(var)) >= 0)

static void msg_freep(void *p)
{
        ProtobufCMessage **m = p;

        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}
#define _cleanup_msg_ _cleanup_(msg_freep)

void process_rpc_not_found(struct rpc *r, const Process__ProcessSelector *sel)
{
        if (sel && sel->selector_case == PROCESS__PROCESS_SELECTOR__SELECTOR_TAG)
                rpc_error(r, CONNECT_NOT_FOUND, "process with tag '%.128s' not found", sel->tag ? sel->tag : "");
        else if (sel && sel->selector_case == PROCESS__PROCESS_SELECTOR__SELECTOR_PID)
                rpc_error(r, CONNECT_NOT_FOUND, "process with pid %u not found", sel->pid);
        else
                rpc_error(r, CONNECT_INVALID_ARGUMENT, "process selector (pid or tag) is required");
}

/* Connect-Timeout-Ms: absent or 0 -> no deadline; garbage -> invalid_argument. */
static int parse_deadline(struct rpc *r, uint64_t *ret_usec)
{
        const char *v = conn_header(r->c, "connect-timeout-ms");
        uint64_t ms;

        *ret_usec = 0;
        if (!v)
                return 0;
        if (connect_parse_timeout_ms(v, &ms) < 0) {
                rpc_error(r, CONNECT_INVALID_ARGUMENT, "invalid Connect-Timeout-Ms '%.32s'", v);
                return -EINVAL;
        }
        *ret_usec = ms * 1000;
        return 0;
}

static bool str_ok(const char *s)
{
        return !s || utf8_is_valid(s, strlen(s));
}

/* The binary codec does not check UTF-8 (protobuf-c, proto2), but everything kept
 * here is echoed by List in JSON: refuse what JSON cannot carry, as proto3 would. */
static bool start_request_is_utf8(const Process__StartRequest *req)
{
        const Process__ProcessConfig *cfg = req->process;

        if (!str_ok(req->tag))
                return false;
        if (!cfg)
                return true;
        if (!str_ok(cfg->cmd) || !str_ok(cfg->cwd))
                return false;
        for (size_t i = 0; i < cfg->n_args; i++)
                if (!str_ok(cfg->args[i]))
                        return false;
        for (size_t i = 0; i < cfg->n_envs; i++)
                if (!str_ok(cfg->envs[i]->key) || !str_ok(cfg->envs[i]->value))
                        return false;
        return true;
}

static void rpc_start(struct conn *c)
{
        _cleanup_msg_ Process__StartRequest *req = NULL;
        struct nb_error err = {0};
        struct spawn_result sr;
        enum connect_code code;
        struct process *p;
        uint64_t lifetime;
        struct rpc r;
        int k;

        if (rpc_begin(c, true, &r) < 0 || !DECODE(&r, Process__StartRequest, process__start_request__descriptor, req))
                return;
        if (parse_deadline(&r, &lifetime) < 0)
                return;
        if (!start_request_is_utf8(req))
                return rpc_error(&r, CONNECT_INVALID_ARGUMENT, "strings in the request must be valid UTF-8");
        k = launch_start(c->agent, conn_header(c, "authorization"), req, &sr, &code, &err);
        if (k < 0) {
                log_debug("Start of '%.64s' refused: %s", req->process && req->process->cmd ? req->process->cmd : "",
                         err.message);
                return rpc_error(&r, code, "%s", err.message);
        }
        /* The process keeps its config for List; the request gives it up. */
        k = process_new(c->agent, &sr, req->pty != NULL, req->process, req->tag, lifetime, &p);
        if (k < 0) {
                /* Out of memory with a live child: it must not run unobserved. */
                kill(-sr.pid, SIGKILL);
                safe_close(sr.stdin_fd);
                safe_close(sr.stdout_fd);
                safe_close(sr.stderr_fd);
                safe_close(sr.pty_fd);
                safe_close(sr.exec_fd);
                return rpc_error(&r, CONNECT_RESOURCE_EXHAUSTED, "out of memory tracking the process");
        }
        req->process = NULL;
        log_debug("Started process %d (%s)", (int)p->pid, p->pty ? "pty" : "pipes");
        if (stream_attach(c, r.codec, p, true, stream_keepalive_from_header(conn_header(c, "keepalive-ping-interval")),
                          0) < 0)
                rpc_error(&r, CONNECT_RESOURCE_EXHAUSTED, "out of memory attaching the stream");
}

static void rpc_connect(struct conn *c)
{
        _cleanup_msg_ Process__ConnectRequest *req = NULL;
        Process__ProcessEvent__EndEvent end;
        Process__ProcessEvent ev = process_event_init();
        struct process *p;
        uint64_t deadline;
        struct rpc r;

        if (rpc_begin(c, true, &r) < 0 ||
            !DECODE(&r, Process__ConnectRequest, process__connect_request__descriptor, req))
                return;
        if (parse_deadline(&r, &deadline) < 0)
                return;
        p = process_find(c->agent, req->process);
        if (!p)
                return process_rpc_not_found(&r, req->process);
        if (p->ended) {
                /* Retained exit: start + end at once, as envd does for a late Connect. */
                stream_send_start(c, r.codec, (uint32_t)p->pid);
                process_end_event(p, &end);
                ev.event_case = PROCESS__PROCESS_EVENT__EVENT_END;
                ev.end = &end;
                {
                        Process__ConnectResponse resp = PROCESS__CONNECT_RESPONSE__INIT;

                        resp.event = &ev;
                        (void)rpc_stream_send(c, r.codec, &resp.base);
                }
                return rpc_stream_close(c, CONNECT_OK, NULL);
        }
        if (stream_attach(c, r.codec, p, false, stream_keepalive_from_header(conn_header(c, "keepalive-ping-interval")),
                          deadline) < 0)
                rpc_error(&r, CONNECT_RESOURCE_EXHAUSTED, "out of memory attaching the stream");
}

static void rpc_list(struct conn *c)
{
        _cleanup_msg_ Process__ListRequest *req = NULL;
        Process__ListResponse resp = PROCESS__LIST_RESPONSE__INIT;
        Process__ProcessConfig empty = PROCESS__PROCESS_CONFIG__INIT;
        Process__ProcessInfo *infos = NULL, **ptrs = NULL;
        struct process *p;
        struct rpc r;
        size_t n = 0, i = 0;

        if (rpc_begin(c, false, &r) < 0 || !DECODE(&r, Process__ListRequest, process__list_request__descriptor, req))
                return;
        for (p = c->agent->processes; p; p = p->next)
                n += !p->ended;
        if (n > 0) {
                infos = calloc(n, sizeof(*infos));
                ptrs = calloc(n, sizeof(*ptrs));
                if (!infos || !ptrs) {
                        free(infos);
                        free(ptrs);
                        return rpc_error(&r, CONNECT_RESOURCE_EXHAUSTED, "out of memory listing processes");
                }
        }
        for (p = c->agent->processes; p && i < n; p = p->next) {
                if (p->ended)
                        continue;
                infos[i] = (Process__ProcessInfo)PROCESS__PROCESS_INFO__INIT;
                /* The SDK dereferences config.args: config is never omitted (§8 trap 16). */
                infos[i].config = p->config ? p->config : &empty;
                infos[i].has_pid = true;
                infos[i].pid = (uint32_t)p->pid;
                infos[i].tag = p->tag;
                ptrs[i] = &infos[i];
                i++;
        }
        resp.n_processes = i;
        resp.processes = ptrs;
        rpc_reply(&r, &resp.base);
        free(infos);
        free(ptrs);
}

void process_rpc_dispatch(struct conn *c, const char *method)
{
        static const struct {
                const char *name;
                void (*fn)(struct conn *c);
        } methods[] = {
                {"Start", rpc_start},
                {"Connect", rpc_connect},
                {"List", rpc_list},
                {"SendInput", process_rpc_send_input},
                {"CloseStdin", process_rpc_close_stdin},
                {"SendSignal", process_rpc_send_signal},
                {"Update", process_rpc_update},
        };

        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (strcmp(method, methods[i].name) == 0)
                        return methods[i].fn(c);
        /* StreamInput is taken over at HEAD time; reaching here means a wrong method. */
        if (strcmp(method, "StreamInput") == 0)
                return conn_reply_error(c, 405, "method %.16s is not allowed on '%.128s'", c->method, c->path);
        /* connect-go answers an unknown procedure with a plain 404. */
        conn_reply_error(c, 404, "unknown procedure '%.128s'", c->path);
}
