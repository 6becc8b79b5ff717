/* A server stream bound to one process: Start's own stream (the "owner") or a
 * Connect stream (protocol.md §3.4). It writes start/data/keepalive/end events
 * into its link connection and goes away with it; the process lives on. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../wire/connect.h"
#include "conn.h"
#include "loop.h"
#include "process.pb-c.h"

struct process;

#define STREAM_KEEPALIVE_DEFAULT_USEC (90ull * 1000000) /* envd's default */

struct stream {
        struct conn *c;
        struct process *p;
        struct stream *prev, *next; /* in p->streams */
        enum connect_codec codec;
        uint64_t keepalive_usec;
        struct loop_timer keepalive;
        struct loop_timer deadline; /* Connect streams: Connect-Timeout-Ms ends the stream only */
};

/** Takes over c for process p: sends the 200 head and the start event, arms the
 *  keepalive and (deadline_usec > 0) the stream deadline. owner marks Start's own
 *  stream, which the process lifetime ends with deadline_exceeded. */
int stream_attach(struct conn *c, enum connect_codec codec, struct process *p, bool owner, uint64_t keepalive_usec,
                  uint64_t deadline_usec);

/** Sends one event (a data event also restarts the keepalive timer). */
void stream_send_event(struct stream *s, const Process__ProcessEvent *ev);

/** Ends the exchange with the end-of-stream envelope (code OK: {}) and frees s. */
void stream_finish(struct stream *s, enum connect_code code, const char *message);

/** More than CONN_HIGH_WATER bytes are waiting for the socket. */
bool stream_congested(const struct stream *s);
/** Fewer than CONN_LOW_WATER bytes are waiting. */
bool stream_drained(const struct stream *s);

/** Parses Keepalive-Ping-Interval (seconds); invalid or absent -> the default. */
uint64_t stream_keepalive_from_header(const char *v);

/** Sends the start event for pid on an opened stream connection. */
void stream_send_start(struct conn *c, enum connect_codec codec, uint32_t pid);
