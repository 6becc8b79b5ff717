/* Processes started by Start: their pipes or pty, their exit, the end event
 * retained after exit, and the fan-out of events to attached streams
 * (protocol.md §3.4, §3.6). The agent's process list owns every struct
 * process; streams only point at them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.h"
#include "buf.h"
#include "error.h"
#include "loop.h"
#include "process.pb-c.h"

struct stream;
struct spawn_result;

/* protoc-c's *_INIT macros for messages with a oneof trip -Wmissing-braces. */
static inline Process__ProcessEvent process_event_init(void)
{
        Process__ProcessEvent ev;

        process__process_event__init(&ev);
        return ev;
}

/* Output read per event, as envd chunks it. */
#define PROCESS_PIPE_CHUNK (32u << 10)
#define PROCESS_PTY_CHUNK (16u << 10)
/* Input queued for a process that is not reading it; beyond this, SendInput fails. */
#define PROCESS_INPUT_MAX (8u << 20)
/* Ended processes kept for late Connect calls. */
#define PROCESS_RETAIN_MAX 256
#define PROCESS_RETAIN_USEC (10ull * 60 * 1000000)

struct process {
        struct agent *agent;
        struct process *prev, *next;
        pid_t pid;
        char *tag;
        Process__ProcessConfig *config; /* as requested (List echoes it); NULL once ended */
        bool pty;

        int stdin_fd, out_fd, err_fd, exec_fd; /* out_fd is the pty master for PTY processes */
        struct loop_io stdin_io, out_io, err_io;
        struct buf input;        /* SendInput bytes not yet accepted by the pipe/pty */
        bool close_stdin_queued; /* CloseStdin arrived while input was still queued */
        bool paused;             /* a stream is congested: output fds not read */

        bool reaped;
        int wait_status;
        bool ended;
        uint64_t ended_at;
        int32_t exit_code;
        bool exited;
        char *status;
        char *error;

        struct stream *streams;
        struct stream *owner;      /* the Start stream, while attached */
        struct loop_timer lifetime; /* Connect-Timeout-Ms of Start */
};

/** Wraps a spawned child: registers its fds, takes ownership of config (a
 *  ProcessConfig unpacked by protobuf-c, freed with protobuf_c_message_free_unpacked)
 *  and of every fd in sr. lifetime_usec 0: no deadline. */
int process_new(struct agent *a, const struct spawn_result *sr, bool pty, Process__ProcessConfig *config,
                const char *tag, uint64_t lifetime_usec, struct process **ret);

/** Running (not ended) process by pid or tag first, else the newest retained one. */
struct process *process_find_pid(struct agent *a, uint32_t pid);
struct process *process_find_tag(struct agent *a, const char *tag);
/** Resolves a ProcessSelector. NULL when absent or unknown. */
struct process *process_find(struct agent *a, const Process__ProcessSelector *sel);

/** The reaper reports a child's wait status. Unknown pids are ignored. */
void process_reaped(struct agent *a, pid_t pid, int wait_status);

/** Queues input for stdin (pty=false) or the pty (pty=true). -EBADF when the
 *  process has no such input (internal), -ENOBUFS when too much is queued. */
int process_write_input(struct process *p, bool pty, const uint8_t *data, size_t n, struct nb_error *err);
/** Closes stdin once queued input is written. -ENOTTY for PTY processes. */
int process_close_stdin(struct process *p, struct nb_error *err);
/** Sends sig to the process group (and the process). */
int process_signal(struct process *p, int sig);

/** Re-evaluates whether output should be read (after a stream drained or left). */
void process_update_reading(struct process *p);

/** Fills e (whose strings point into p) with the end event. p must have ended. */
void process_end_event(const struct process *p, Process__ProcessEvent__EndEvent *e);

/** Drops ended processes beyond the retention limits. */
void process_prune(struct agent *a);
/** SIGKILLs every running process group (shutdown). */
void process_kill_all(struct agent *a);
/** Frees every process (shutdown; streams must be gone). */
void process_free_all(struct agent *a);
