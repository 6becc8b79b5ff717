/* Starting one process for Start (protocol.md §3.4): fork, then in the child
 * own process group (or session + controlling tty for a PTY), stdio wiring,
 * oom_score_adj, groups/gid/uid, cwd, close_range, PATH lookup, exec. Every
 * allocation happens before fork. A failure in the child after fork is
 * written to a close-on-exec pipe and the child exits 127; the parent reads
 * it when the process ends (an end event, never a crash). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

struct spawn_spec {
        const char *cmd;         /* as requested: a name looked up in PATH, or a path */
        char *const *argv;       /* argv[0] = cmd */
        char *const *envp;       /* "K=V", NULL-terminated; its PATH drives the lookup */
        const char *cwd;         /* absolute, already checked to exist */
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
        bool pty;
        unsigned rows, cols;     /* pty size */
        bool stdin_pipe;         /* false: stdin is /dev/null (pipes only) */
};

struct spawn_result {
        pid_t pid;
        int stdin_fd;  /* pipe write end (non-blocking) or -EBADF */
        int stdout_fd; /* pipe read end (non-blocking) or -EBADF */
        int stderr_fd; /* pipe read end (non-blocking) or -EBADF */
        int pty_fd;    /* pty master (non-blocking) or -EBADF */
        int exec_fd;   /* read end of the exec-error pipe */
};

/** Forks and execs. On success the caller owns every fd in *ret. */
int spawn_process(const struct spawn_spec *s, struct spawn_result *ret, struct nb_error *err);

/** Reads what a failed child wrote to its exec-error pipe (non-blocking; "" if it
 *  exec'd fine). */
void spawn_read_exec_error(int exec_fd, char *buf, size_t n);
