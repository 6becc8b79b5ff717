/* Test-side client of nestbox-agent: starts the real binary with a listening
 * socket on fd 3 (as the daemon does) and speaks link frames to it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

struct agent_proc {
        pid_t pid;
        char dir[64];
        char sock[108];
};

/** Starts binary with fd 3 = a listening socket in a fresh temp dir. extra_args may be NULL.
 *  pid1: run it as pid 1 of a new pid namespace (as a sandbox does). */
int agent_start(const char *binary, const char *const *extra_args, bool pid1, struct agent_proc *ret);
/** SIGTERM, wait, clean up; returns the wait status. */
int agent_stop(struct agent_proc *a);
/** agent_stop() for group teardowns: 0 when the agent exited 0, else -1 with the status printed. */
int agent_stop_clean(struct agent_proc *a);
/** The start of every agent test driver's main(): argv[1] names the agent binary and the
 *  tests need root. Returns 0 to go on, or the exit status to return (2 usage, 77 skip). */
int agent_test_preamble(int argc, char **argv, const char *usage_args);

/** One exchange in progress. */
struct exch {
        int fd;
        int status;
        json_t *head;     /* response HEAD */
        struct buf body;  /* response body bytes not yet consumed */
        bool ended;       /* response END seen */
};

/** Connects and sends HEAD (+ one BODY when n > 0) (+ END when send_end).
 *  headers: "name", "value", ..., NULL. */
int exch_open(const struct agent_proc *a, const char *method, const char *path, const char *const *headers,
              const void *body, size_t n, bool send_end, struct exch *ret);
/** The same with "port" in the HEAD, as the daemon relays E2b-Sandbox-Port (0: none). */
int exch_open_port(const struct agent_proc *a, unsigned port, const char *method, const char *path,
                   const char *const *headers, const void *body, size_t n, bool send_end, struct exch *ret);
/** Sends one more BODY frame / the END frame. */
int exch_send_body(struct exch *e, const void *body, size_t n);
int exch_send_end(struct exch *e);
/** Reads the response HEAD. */
int exch_read_head(struct exch *e, int timeout_ms);
/** Reads until END; the body accumulates in e->body. */
int exch_read_all(struct exch *e, int timeout_ms);
/** Next Connect envelope of a streaming response: *ret_payload is malloc'd and
 *  NUL-terminated. -ETIMEDOUT, -EPIPE when the stream ended without one. */
int exch_next_envelope(struct exch *e, int timeout_ms, uint8_t *ret_flags, char **ret_payload, size_t *ret_len);
void exch_close(struct exch *e);

/** Unary HTTP-style exchange: status and NUL-terminated body (malloc'd). */
int agent_http(const struct agent_proc *a, const char *method, const char *path, const char *const *headers,
               const char *body, int *ret_status, char **ret_body);

/** Appends a Connect envelope holding n bytes. */
void envelope(struct buf *b, uint8_t flags, const void *p, size_t n);

/* cmocka assertions on a Connect stream (every test binary links cmocka). */
/** The next envelope, which must come within 10 s with these flags; its payload (caller frees). */
char *exch_expect_next(struct exch *e, uint8_t want_flags);
/** The next envelope must have these flags and exactly this payload. */
void exch_expect_payload(struct exch *e, uint8_t flags, const char *want);
