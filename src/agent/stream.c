/* Process event streams (see stream.h). Both StartResponse and ConnectResponse
 * are `{event = 1}`, identical on the wire, so one encoder serves both. */
#include "stream.h"

#include <stdlib.h>

#include "process.h"
#include "rpc.h"

static void stream_free(struct stream *s)
{
        struct process *p = s->p;

        loop_timer_disarm(&s->keepalive);
        loop_timer_disarm(&s->deadline);
        if (p) {
                if (s->prev)
                        s->prev->next = s->next;
                else
                        p->streams = s->next;
                if (s->next)
                        s->next->prev = s->prev;
                if (p->owner == s)
                        p->owner = NULL;
        }
        free(s);
        /* One congested stream fewer may let the process's output flow again. */
        if (p)
                process_update_reading(p);
}

static void stream_conn_drained(struct conn *c)
{
        struct stream *s = c->userdata;

        if (s && s->p)
                process_update_reading(s->p);
}

static void stream_conn_aborted(struct conn *c, void *userdata)
{
        /* The client went away: the stream ends, the process does not (§3.6). */
        stream_free(userdata);
}

static const struct conn_handler stream_handler = {
        .drained = stream_conn_drained,
        .aborted = stream_conn_aborted,
};

static void send_event(struct conn *c, enum connect_codec codec, const Process__ProcessEvent *ev)
{
        Process__StartResponse resp = PROCESS__START_RESPONSE__INIT;

        resp.event = (Process__ProcessEvent *)ev;
        (void)rpc_stream_send(c, codec, &resp.base);
}

void stream_send_start(struct conn *c, enum connect_codec codec, uint32_t pid)
{
        Process__ProcessEvent__StartEvent start = PROCESS__PROCESS_EVENT__START_EVENT__INIT;
        Process__ProcessEvent ev = process_event_init();

        start.has_pid = true;
        start.pid = pid;
        ev.event_case = PROCESS__PROCESS_EVENT__EVENT_START;
        ev.start = &start;
        rpc_stream_open(c, codec);
        send_event(c, codec, &ev);
}

static void stream_keepalive_fire(struct loop_timer *t)
{
        Process__ProcessEvent__KeepAlive ka = PROCESS__PROCESS_EVENT__KEEP_ALIVE__INIT;
        Process__ProcessEvent ev = process_event_init();
        struct stream *s = t->userdata;

        ev.event_case = PROCESS__PROCESS_EVENT__EVENT_KEEPALIVE;
        ev.keepalive = &ka;
        stream_send_event(s, &ev);
}

static void stream_arm_keepalive(struct stream *s)
{
        loop_timer_arm(s->c->agent->loop, &s->keepalive, loop_now() + s->keepalive_usec, stream_keepalive_fire, s);
}

static void stream_deadline_fire(struct loop_timer *t)
{
        stream_finish(t->userdata, CONNECT_DEADLINE_EXCEEDED, "context deadline exceeded");
}

int stream_attach(struct conn *c, enum connect_codec codec, struct process *p, bool owner, uint64_t keepalive_usec,
                  uint64_t deadline_usec)
{
        struct stream *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->c = c;
        s->p = p;
        s->codec = codec;
        s->keepalive_usec = keepalive_usec ? keepalive_usec : STREAM_KEEPALIVE_DEFAULT_USEC;
        s->next = p->streams;
        if (p->streams)
                p->streams->prev = s;
        p->streams = s;
        if (owner)
                p->owner = s;
        conn_set_handler(c, &stream_handler, s);
        stream_send_start(c, codec, (uint32_t)p->pid);
        stream_arm_keepalive(s);
        if (deadline_usec > 0)
                loop_timer_arm(c->agent->loop, &s->deadline, loop_now() + deadline_usec, stream_deadline_fire, s);
        return 0;
}

void stream_send_event(struct stream *s, const Process__ProcessEvent *ev)
{
        send_event(s->c, s->codec, ev);
        /* envd's ticker restarts on every data event, and after each keepalive. */
        if (ev->event_case == PROCESS__PROCESS_EVENT__EVENT_DATA ||
            ev->event_case == PROCESS__PROCESS_EVENT__EVENT_KEEPALIVE)
                stream_arm_keepalive(s);
}

void stream_finish(struct stream *s, enum connect_code code, const char *message)
{
        struct conn *c = s->c;

        conn_clear_handler(c);
        rpc_stream_close(c, code, message);
        stream_free(s);
}

bool stream_congested(const struct stream *s)
{
        return conn_pending(s->c) > CONN_HIGH_WATER;
}

bool stream_drained(const struct stream *s)
{
        return conn_pending(s->c) < CONN_LOW_WATER;
}

uint64_t stream_keepalive_from_header(const char *v)
{
        unsigned long long secs = 0;

        if (!v || !*v)
                return STREAM_KEEPALIVE_DEFAULT_USEC;
        for (const char *p = v; *p; p++) {
                if (*p < '0' || *p > '9' || secs > 86400)
                        return STREAM_KEEPALIVE_DEFAULT_USEC;
                secs = secs * 10 + (unsigned long long)(*p - '0');
        }
        if (secs == 0 || secs > 86400)
                return STREAM_KEEPALIVE_DEFAULT_USEC;
        return secs * 1000000ull;
}
