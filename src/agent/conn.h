/* One link connection = one HTTP exchange relayed by the daemon (src/wire/link.h).
 * The connection owns its sockets and buffers; whoever answers the request
 * (router, rpc, stream) writes the response through conn_reply_*(). A
 * connection is never freed inside a callback: conn_kill() marks it and
 * agent_post() frees it after the dispatch round. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent.h"
#include "buf.h"
#include "loop.h"

/* Back-pressure thresholds for the pending response bytes of one connection. */
#define CONN_HIGH_WATER (1u << 20)
#define CONN_LOW_WATER (256u << 10)
/* Largest request body kept in memory (unary RPCs, /init). */
#define CONN_BODY_MAX (16u << 20)

struct conn;

/** Callbacks of whoever took over the exchange (a stream, StreamInput). */
struct conn_handler {
        /* A request BODY arrived (streaming bodies only); the bytes are in c->body. */
        void (*body)(struct conn *c);
        /* The request END arrived (streaming bodies only). */
        void (*end)(struct conn *c);
        /* Pending output fell below CONN_LOW_WATER. */
        void (*drained)(struct conn *c);
        /* The peer went away before the response ended, or the conn is being freed:
         * release everything tied to c. Called once; c->handler is cleared first. */
        void (*aborted)(struct conn *c, void *userdata);
};

struct conn {
        struct agent *agent;
        struct conn *prev, *next;
        int fd;
        struct loop_io io;
        struct buf in, out;

        json_t *head;                  /* the request HEAD: method, path, query, headers */
        const char *method, *path;     /* borrowed from head */
        struct buf body;
        bool head_done, req_done;
        bool body_streaming;            /* BODY frames go to handler->body as they come */

        bool resp_started, resp_done;
        bool dead;

        const struct conn_handler *handler;
        void *userdata;
};

/** Accepts pending connections on the agent's listening socket. */
void conn_listen_event(struct loop_io *io, uint32_t events);

/** A request header by lower-case name, or NULL. */
const char *conn_header(const struct conn *c, const char *name);

/** Response pieces. Errors (a broken socket, no memory) kill the connection;
 *  callers need not check them. content_length < 0: unknown (streamed). */
void conn_reply_head(struct conn *c, int status, const char *content_type, long long content_length);
void conn_reply_body(struct conn *c, const void *p, size_t n);
void conn_reply_end(struct conn *c);
/** HEAD + BODY + END in one go; content_type may be NULL when n == 0. */
void conn_reply(struct conn *c, int status, const char *content_type, const void *p, size_t n);
/** An envd-style error: {"code":<status>,"message":"<text>"} with application/json. */
void conn_reply_error(struct conn *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Bytes of response not yet accepted by the socket. */
size_t conn_pending(const struct conn *c);

/** Installs the handler that owns the rest of the exchange. */
void conn_set_handler(struct conn *c, const struct conn_handler *h, void *userdata);
/** Drops the handler without calling aborted (its owner is going away). */
void conn_clear_handler(struct conn *c);

/** Marks c for freeing after this dispatch round (aborting its handler). */
void conn_kill(struct conn *c);
/** Frees every connection marked dead. */
void conn_reap_dead(struct agent *a);
/** Kills and frees every connection (shutdown). */
void conn_free_all(struct agent *a);
