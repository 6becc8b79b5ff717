/* Shared pieces of `nestbox sandbox`: the output pump thread (sandbox-io.c),
 * the interactive terminal (sandbox-terminal.c) and exec's stdin forwarding
 * (sandbox-exec.c). Everything goes through libnestbox (include/nestbox.h). */
#pragma once

#include <pthread.h>
#include <stdint.h>

#include "nestbox.h"

/* A thread that runs nestbox_process_wait(), writing PTY/stdout output to fd 1
 * and stderr to fd 2, then makes done_fd (an eventfd) readable. */
struct io_pump {
        nestbox_process *p; /* borrowed */
        pthread_t thread;
        int done_fd;
        int wait_r;    /* nestbox_process_wait()'s result */
        int exit_code; /* valid when wait_r >= 0 */
        nestbox_error err;
        int running;
};

/** Starts the thread. Block the signals you want on a signalfd before: the thread
 *  inherits the mask. -errno. */
int io_pump_start(struct io_pump *pump, nestbox_process *p);
/** Joins the thread (after done_fd fired, or after nestbox_process_cancel()). */
void io_pump_join(struct io_pump *pump);

/** write(2) all of p[0..n) to fd, waiting through EAGAIN and EINTR. -errno. */
int write_all(int fd, const void *p, size_t n);

/** Milliseconds on the monotonic clock. */
uint64_t mono_ms(void);

struct terminal_opts {
        unsigned keepalive_s;  /* the timeout POSTed every 5 s while attached */
        int64_t keep_until_ms; /* never ask for less than the time left until then (epoch ms), 0 = none */
};

/** An interactive terminal on sb: raw mode on the local tty, a PTY of its size
 *  running bash (or sh when the sandbox has no /bin/bash), input batched every
 *  10 ms, SIGWINCH -> resize, keepalive timeouts. The local terminal is restored
 *  on every exit. Returns the shell's exit status (0-255), or -errno after
 *  printing why. */
int sandbox_terminal(nestbox_client *c, nestbox_sandbox *sb, const struct terminal_opts *o);

/** Runs argv in sb with stdout/stderr passed through and, when stdin is not a
 *  tty, stdin forwarded. Returns the exit status, or -errno after printing why. */
int sandbox_exec(nestbox_sandbox *sb, char *const *argv);
