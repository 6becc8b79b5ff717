/* Code-interpreter contexts (protocol.md §5): one long-lived driver process per
 * context (python3 running interp-kernel.py, or node running interp-kernel.js,
 * both embedded at build time), its pipes,
 * and the queue of requests waiting for it. Executions run one at a time per
 * context; their NDJSON lines go to the client's link connection as the
 * driver writes them, with back-pressure and keepalives. The context list is
 * owned here (one agent per process). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "agent.h"
#include "buf.h"
#include "conn.h"
#include "error.h"
#include "loop.h"

#define INTERP_ID_LEN 36
/* protocol.md §5.2: a keepalive line after this much silence. */
#define INTERP_KEEPALIVE_USEC (5ull * 1000000)

struct interp_job;

/** The languages with a driver; E2B's names (protocol.md §5.1). */
enum interp_language {
        INTERP_PYTHON,
        INTERP_JAVASCRIPT,
        INTERP_BASH,       /* the Python driver running bash cells */
        INTERP_TYPESCRIPT, /* the JavaScript driver, stripping types from each cell first */
};

/** "python" / "javascript" / "bash" / "typescript". */
const char *interp_language_name(enum interp_language l);

struct interp_ctx {
        struct agent *agent;
        struct interp_ctx *next;
        char id[INTERP_ID_LEN + 1];
        enum interp_language language;
        char *cwd; /* absolute; what the client asked for or the default */
        bool is_default; /* the context runCode uses for its language when given none */

        pid_t pid; /* 0: no driver running */
        bool ready;
        int cmd_fd, ev_fd, diag_fd, exec_fd;
        struct loop_io cmd_io, ev_io, diag_io;
        struct buf cmd_out; /* commands not yet accepted by the driver's stdin */
        struct buf ev_in;   /* a partial event line */
        bool ev_paused;     /* the running job's client is congested */
        char diag[1024];    /* the last bytes the driver wrote to its stderr */
        size_t diag_len;

        struct interp_job *running;
        struct interp_job *queue, **queue_tail;
};

/** Creates a context and starts its driver as the sandbox's default user, in cwd
 *  (NULL or "": the default workdir, else the user's home). The context is
 *  listed at once; it accepts jobs before its driver is ready. -EINVAL when cwd
 *  does not exist. */
int interp_ctx_new(struct agent *a, enum interp_language language, const char *cwd, bool is_default,
                   struct interp_ctx **ret, struct nb_error *err);

/** The context with this id, or NULL. */
struct interp_ctx *interp_ctx_find(const char *id);
/** The default context of a language, created on first use. */
int interp_ctx_default(struct agent *a, enum interp_language language, struct interp_ctx **ret,
                       struct nb_error *err);
/** First context of the list (then ->next), for GET /contexts. */
struct interp_ctx *interp_ctx_list(void);

/** Takes over c for one execution: answers 200 at once and streams the
 *  execution's lines when its turn comes. cmd is the driver command line (JSON
 *  without the newline); it is copied. */
void interp_ctx_execute(struct interp_ctx *ctx, struct conn *c, const char *cmd);
/** Answers c with 200 + body (application/json) once the context's driver is
 *  ready, or 500 if it cannot start. body is copied. */
void interp_ctx_reply_when_ready(struct interp_ctx *ctx, struct conn *c, const char *body);

/** Kills the driver (the running execution ends with an error) and starts a new
 *  one with the same id; queued requests wait for it. */
int interp_ctx_restart(struct interp_ctx *ctx, struct nb_error *err);
/** Kills the driver, ends every request of the context with an error, frees it. */
void interp_ctx_remove(struct interp_ctx *ctx);

/** Removes every context (agent shutdown). */
void interp_ctx_remove_all(void);
