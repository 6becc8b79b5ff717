/* SendInput, CloseStdin, SendSignal, Update and the client-streaming
 * StreamInput (protocol.md §3.4). Errors follow envd: a process that is gone
 * is not_found; input of the wrong kind or a closed stdin is internal. */
#include "process-rpc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "process.h"
#include "pty.h"

static void msg_freep(void *p)
{
        ProtobufCMessage **m = p;

        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}
#define _cleanup_msg_ _cleanup_(msg_freep)

static void reply_empty(struct rpc *r, const ProtobufCMessageDescriptor *desc)
{
        ProtobufCMessage m;

        protobuf_c_message_init(desc, &m);
        rpc_reply(r, &m);
}

/* A process that can still be acted on: found and not ended. */
static struct process *find_live(struct rpc *r, const Process__ProcessSelector *sel)
{
        struct process *p = process_find(r->c->agent, sel);

        if (!p || p->ended) {
                process_rpc_not_found(r, sel);
                return NULL;
        }
        return p;
}

static int write_input(struct process *p, const Process__ProcessInput *in, struct nb_error *err)
{
        if (!in || in->input_case == PROCESS__PROCESS_INPUT__INPUT__NOT_SET)
                return nb_error_set(err, -EINVAL, "input (stdin or pty) is required");
        if (in->input_case == PROCESS__PROCESS_INPUT__INPUT_PTY)
                return process_write_input(p, true, in->pty.data, in->pty.len, err);
        return process_write_input(p, false, in->stdin.data, in->stdin.len, err);
}

static enum connect_code input_error_code(int r)
{
        return r == -EINVAL ? CONNECT_INVALID_ARGUMENT
               : r == -ENOBUFS ? CONNECT_RESOURCE_EXHAUSTED
                               : CONNECT_INTERNAL;
}

void process_rpc_send_input(struct conn *c)
{
        _cleanup_msg_ Process__SendInputRequest *req = NULL;
        struct nb_error err = {0};
        struct process *p;
        struct rpc r;
        int k;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &process__send_input_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        p = find_live(&r, req->process);
        if (!p)
                return;
        k = write_input(p, req->input, &err);
        if (k < 0)
                return rpc_error(&r, input_error_code(k), "%s", err.message);
        reply_empty(&r, &process__send_input_response__descriptor);
}

void process_rpc_close_stdin(struct conn *c)
{
        _cleanup_msg_ Process__CloseStdinRequest *req = NULL;
        struct nb_error err = {0};
        struct process *p;
        struct rpc r;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &process__close_stdin_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        p = find_live(&r, req->process);
        if (!p)
                return;
        if (process_close_stdin(p, &err) < 0)
                return rpc_error(&r, CONNECT_INTERNAL, "%s", err.message);
        reply_empty(&r, &process__close_stdin_response__descriptor);
}

void process_rpc_send_signal(struct conn *c)
{
        _cleanup_msg_ Process__SendSignalRequest *req = NULL;
        struct process *p;
        struct rpc r;
        int sig, k;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &process__send_signal_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        p = find_live(&r, req->process);
        if (!p)
                return;
        switch (req->has_signal ? req->signal : PROCESS__SIGNAL__SIGNAL_UNSPECIFIED) {
        case PROCESS__SIGNAL__SIGNAL_SIGKILL:
                sig = SIGKILL;
                break;
        case PROCESS__SIGNAL__SIGNAL_SIGTERM:
                sig = SIGTERM;
                break;
        default:
                return rpc_error(&r, CONNECT_UNIMPLEMENTED, "invalid signal: %d",
                                 req->has_signal ? (int)req->signal : 0);
        }
        k = process_signal(p, sig);
        if (k < 0)
                return rpc_error(&r, CONNECT_INTERNAL, "cannot signal process %d: %s", (int)p->pid, strerror(-k));
        reply_empty(&r, &process__send_signal_response__descriptor);
}

void process_rpc_update(struct conn *c)
{
        _cleanup_msg_ Process__UpdateRequest *req = NULL;
        struct process *p;
        struct rpc r;
        int k;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &process__update_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        p = find_live(&r, req->process);
        if (!p)
                return;
        if (req->pty && req->pty->size) {
                if (!p->pty || p->out_fd < 0)
                        return rpc_error(&r, CONNECT_INTERNAL, "tty not assigned to process %d", (int)p->pid);
                k = pty_resize(p->out_fd, req->pty->size->rows, req->pty->size->cols);
                if (k == -EINVAL)
                        return rpc_error(&r, CONNECT_INVALID_ARGUMENT, "invalid pty size %ux%u", req->pty->size->cols,
                                         req->pty->size->rows);
                if (k < 0)
                        return rpc_error(&r, CONNECT_INTERNAL, "cannot resize the pty: %s", strerror(-k));
        }
        reply_empty(&r, &process__update_response__descriptor);
}

/* StreamInput: envelopes arrive as BODY frames; the first selects the process,
 * later ones carry input. Replies once, at the request END (or at the first error). */
struct input_stream {
        struct rpc r;
        Process__ProcessSelector sel; /* copied from the start event */
        char *tag;
        bool started;
};

static void input_stream_free(struct input_stream *s)
{
        free(s->tag);
        free(s);
}

static void input_aborted(struct conn *c, void *userdata)
{
        input_stream_free(userdata);
}

static void input_fail(struct conn *c, struct input_stream *s, enum connect_code code, const char *message)
{
        conn_clear_handler(c);
        rpc_error(&s->r, code, "%s", message);
        input_stream_free(s);
}

/* Handles one request message; returns false after answering with an error. */
static bool input_handle(struct conn *c, struct input_stream *s, const Process__StreamInputRequest *m)
{
        struct nb_error err = {0};
        struct process *p;
        char msg[160];
        int k;

        switch (m->event_case) {
        case PROCESS__STREAM_INPUT_REQUEST__EVENT_START:
                if (s->started || !m->start || !m->start->process) {
                        input_fail(c, s, CONNECT_INVALID_ARGUMENT, "exactly one start event with a process "
                                                                   "selector must come first");
                        return false;
                }
                s->sel = *m->start->process;
                if (s->sel.selector_case == PROCESS__PROCESS_SELECTOR__SELECTOR_TAG) {
                        s->tag = strdup(s->sel.tag ? s->sel.tag : "");
                        if (!s->tag) {
                                input_fail(c, s, CONNECT_RESOURCE_EXHAUSTED, "out of memory");
                                return false;
                        }
                        s->sel.tag = s->tag;
                }
                s->started = true;
                p = process_find(c->agent, &s->sel);
                break;
        case PROCESS__STREAM_INPUT_REQUEST__EVENT_DATA:
                if (!s->started) {
                        input_fail(c, s, CONNECT_INVALID_ARGUMENT, "the start event must come first");
                        return false;
                }
                p = process_find(c->agent, &s->sel);
                if (p && !p->ended) {
                        k = write_input(p, m->data ? m->data->input : NULL, &err);
                        if (k < 0) {
                                input_fail(c, s, input_error_code(k), err.message);
                                return false;
                        }
                }
                break;
        default:
                return true; /* keepalive */
        }
        if (!p || p->ended) {
                if (s->sel.selector_case == PROCESS__PROCESS_SELECTOR__SELECTOR_TAG)
                        snprintf(msg, sizeof(msg), "process with tag '%.64s' not found", s->tag);
                else
                        snprintf(msg, sizeof(msg), "process with pid %u not found", s->sel.pid);
                input_fail(c, s, CONNECT_NOT_FOUND, msg);
                return false;
        }
        return true;
}

static void input_body(struct conn *c)
{
        struct input_stream *s = c->userdata;

        for (;;) {
                _cleanup_msg_ Process__StreamInputRequest *m = NULL;
                struct nb_error err = {0};
                const uint8_t *payload;
                uint8_t flags;
                uint32_t len;
                int k;

                k = connect_envelope_parse(buf_head(&c->body), buf_avail(&c->body), &flags, &payload, &len);
                if (k == 0)
                        return;
                if (k < 0 || flags != 0) {
                        input_fail(c, s, CONNECT_INVALID_ARGUMENT, "malformed request envelope");
                        return;
                }
                k = connect_message_decode(s->r.codec, &process__stream_input_request__descriptor, payload, len,
                                           (ProtobufCMessage **)&m, &err);
                buf_consume(&c->body, CONNECT_ENVELOPE_HEADER_SIZE + len);
                if (k < 0) {
                        input_fail(c, s, CONNECT_INVALID_ARGUMENT, err.message);
                        return;
                }
                if (!input_handle(c, s, m))
                        return;
        }
}

static void input_end(struct conn *c)
{
        struct input_stream *s = c->userdata;
        ProtobufCMessage resp;

        if (buf_avail(&c->body) > 0)
                return input_fail(c, s, CONNECT_INVALID_ARGUMENT, "truncated request envelope");
        if (!s->started)
                return input_fail(c, s, CONNECT_INVALID_ARGUMENT, "no start event was sent");
        conn_clear_handler(c);
        protobuf_c_message_init(&process__stream_input_response__descriptor, &resp);
        rpc_stream_open(c, s->r.codec);
        (void)rpc_stream_send(c, s->r.codec, &resp);
        rpc_stream_close(c, CONNECT_OK, NULL);
        input_stream_free(s);
}

static const struct conn_handler input_handler = {
        .body = input_body,
        .end = input_end,
        .aborted = input_aborted,
};

void process_rpc_stream_input_begin(struct conn *c)
{
        struct input_stream *s;
        struct rpc r;

        if (rpc_begin(c, true, &r) < 0)
                return;
        s = calloc(1, sizeof(*s));
        if (!s)
                return rpc_error(&r, CONNECT_RESOURCE_EXHAUSTED, "out of memory");
        s->r = r;
        c->body_streaming = true;
        conn_set_handler(c, &input_handler, s);
}
