/* Process lifecycle: output fan-out with back-pressure, queued input, exit,
 * end event, retention (see process.h). A process ends when it has been
 * reaped AND its output reached EOF, as envd does (it waits for the pipes
 * before Wait()), so output written by a last grandchild is not lost. */
#include "process.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "exitstatus.h"
#include "log.h"
#include "spawn.h"
#include "stream.h"

static void process_emit(struct process *p, const Process__ProcessEvent *ev)
{
        struct stream *s, *next;

        for (s = p->streams; s; s = next) {
                next = s->next;
                stream_send_event(s, ev);
        }
}

static void process_emit_data(struct process *p, Process__ProcessEvent__DataEvent__OutputCase which,
                              const uint8_t *data, size_t n)
{
        Process__ProcessEvent__DataEvent d;
        Process__ProcessEvent ev = process_event_init();
        ProtobufCBinaryData bytes = {.len = n, .data = (uint8_t *)data};

        if (!p->streams)
                return; /* nobody attached: output is dropped, never buffered (§3.6) */
        process__process_event__data_event__init(&d);
        d.output_case = which;
        if (which == PROCESS__PROCESS_EVENT__DATA_EVENT__OUTPUT_STDOUT)
                d.stdout = bytes;
        else if (which == PROCESS__PROCESS_EVENT__DATA_EVENT__OUTPUT_STDERR)
                d.stderr = bytes;
        else
                d.pty = bytes;
        ev.event_case = PROCESS__PROCESS_EVENT__EVENT_DATA;
        ev.data = &d;
        process_emit(p, &ev);
}

void process_end_event(const struct process *p, Process__ProcessEvent__EndEvent *e)
{
        *e = (Process__ProcessEvent__EndEvent)PROCESS__PROCESS_EVENT__END_EVENT__INIT;
        /* proto3 on envd's side: zero values are simply absent (§3.2). */
        e->has_exit_code = p->exit_code != 0;
        e->exit_code = p->exit_code;
        e->has_exited = p->exited;
        e->exited = p->exited;
        e->status = p->status;
        e->error = p->error;
}

static uint32_t process_out_events(const struct process *p)
{
        uint32_t ev = 0;

        if (!p->paused)
                ev |= EPOLLIN;
        if (p->pty && buf_avail(&p->input) > 0)
                ev |= EPOLLOUT;
        return ev;
}

static void process_out_event(struct loop_io *io, uint32_t events);
static void process_stdin_event(struct loop_io *io, uint32_t events);

/* Registers or unregisters an fd so that epoll only ever holds an fd we want to
 * hear from: a paused pipe at EOF would otherwise report EPOLLHUP in a loop. */
static void process_watch(struct process *p, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn)
{
        int r;

        if (fd < 0)
                return;
        if (events == 0) {
                loop_io_del(io);
                return;
        }
        if (io->loop) {
                r = loop_io_set_events(io, events);
        } else
                r = loop_io_add(p->agent->loop, io, fd, events, fn, p);
        if (r < 0)
                log_error_errno(r, "Failed to watch an fd of process %d, ignoring: %m", (int)p->pid);
}

static void process_update_events(struct process *p)
{
        process_watch(p, &p->out_io, p->out_fd, process_out_events(p), process_out_event);
        process_watch(p, &p->err_io, p->err_fd, p->paused ? 0 : EPOLLIN, process_out_event);
        if (!p->pty)
                process_watch(p, &p->stdin_io, p->stdin_fd, buf_avail(&p->input) > 0 ? EPOLLOUT : 0,
                              process_stdin_event);
}

void process_update_reading(struct process *p)
{
        bool congested = false, drained = true;

        for (struct stream *s = p->streams; s; s = s->next) {
                congested = congested || stream_congested(s);
                drained = drained && stream_drained(s);
        }
        if (!p->paused && congested)
                p->paused = true;
        else if (p->paused && drained)
                p->paused = false;
        else
                return;
        process_update_events(p);
}

static void process_close_stdin_now(struct process *p)
{
        if (!p->pty) {
                loop_io_del(&p->stdin_io);
                p->stdin_fd = safe_close(p->stdin_fd);
        }
        buf_done(&p->input);
        p->close_stdin_queued = false;
}

static void process_free(struct process *p)
{
        struct agent *a = p->agent;

        while (p->streams)
                stream_finish(p->streams, CONNECT_UNAVAILABLE, "the sandbox agent is shutting down");
        loop_timer_disarm(&p->lifetime);
        loop_io_del(&p->stdin_io);
        loop_io_del(&p->out_io);
        loop_io_del(&p->err_io);
        safe_close(p->stdin_fd);
        safe_close(p->out_fd);
        safe_close(p->err_fd);
        safe_close(p->exec_fd);
        buf_done(&p->input);
        if (p->config)
                protobuf_c_message_free_unpacked(&p->config->base, NULL);
        free(p->tag);
        free(p->status);
        free(p->error);
        if (p->prev)
                p->prev->next = p->next;
        else
                a->processes = p->next;
        if (p->next)
                p->next->prev = p->prev;
        if (p->ended)
                a->n_ended--;
        free(p);
}

void process_prune(struct agent *a)
{
        uint64_t now = loop_now();
        struct process *p, *next, *oldest;

        for (p = a->processes; p; p = next) {
                next = p->next;
                if (p->ended && now - p->ended_at > PROCESS_RETAIN_USEC)
                        process_free(p);
        }
        while (a->n_ended > PROCESS_RETAIN_MAX) {
                oldest = NULL;
                for (p = a->processes; p; p = p->next)
                        if (p->ended && (!oldest || p->ended_at < oldest->ended_at))
                                oldest = p;
                if (!oldest)
                        break;
                process_free(oldest);
        }
}

static void process_maybe_end(struct process *p)
{
        Process__ProcessEvent__EndEvent end;
        Process__ProcessEvent ev = process_event_init();
        char status[64], exec_error[512];
        struct stream *s, *next;

        if (p->ended || !p->reaped || p->out_fd >= 0 || p->err_fd >= 0)
                return;

        spawn_read_exec_error(p->exec_fd, exec_error, sizeof(exec_error));
        exit_status_format(p->wait_status, status, sizeof(status));
        p->exit_code = exit_status_code(p->wait_status);
        p->exited = exit_status_exited(p->wait_status);
        p->status = strdup(status);
        /* Go's cmd.Wait() error is the status text for any unsuccessful exit; a failed
         * exec is reported with its own reason (exit 127, like a shell's). */
        if (exec_error[0])
                p->error = strdup(exec_error);
        else if (!(p->exited && p->exit_code == 0))
                p->error = strdup(status);
        if (!p->status || (!p->error && (exec_error[0] || !(p->exited && p->exit_code == 0))))
                log_error("Out of memory recording the exit of process %d", (int)p->pid);

        p->ended = true;
        p->ended_at = loop_now();
        p->agent->n_ended++;
        loop_timer_disarm(&p->lifetime);
        process_close_stdin_now(p);
        p->exec_fd = safe_close(p->exec_fd);
        if (p->config) {
                protobuf_c_message_free_unpacked(&p->config->base, NULL);
                p->config = NULL;
        }
        log_info("Process %d ended: %s", (int)p->pid, status);

        process_end_event(p, &end);
        ev.event_case = PROCESS__PROCESS_EVENT__EVENT_END;
        ev.end = &end;
        for (s = p->streams; s; s = next) {
                next = s->next;
                stream_send_event(s, &ev);
                stream_finish(s, CONNECT_OK, NULL);
        }
        process_prune(p->agent);
}

/* Output fd at EOF (or broken): stop watching it. */
static void process_output_eof(struct process *p, bool err_pipe)
{
        if (err_pipe) {
                loop_io_del(&p->err_io);
                p->err_fd = safe_close(p->err_fd);
        } else {
                loop_io_del(&p->out_io);
                p->out_fd = safe_close(p->out_fd);
                if (p->pty)
                        buf_done(&p->input); /* the pty is gone: queued input has nowhere to go */
        }
        process_maybe_end(p);
}

static void process_read(struct process *p, bool err_pipe)
{
        uint8_t data[PROCESS_PIPE_CHUNK];
        int fd = err_pipe ? p->err_fd : p->out_fd;
        size_t max = p->pty ? PROCESS_PTY_CHUNK : PROCESS_PIPE_CHUNK;
        ssize_t k;

        k = read(fd, data, max);
        if (k < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                /* EIO: every slave fd of the pty is closed; that is the pty's EOF. */
                if (errno != EIO)
                        log_debug_errno(-errno, "Reading output of process %d failed: %m", (int)p->pid);
                process_output_eof(p, err_pipe);
                return;
        }
        if (k == 0) {
                process_output_eof(p, err_pipe);
                return;
        }
        process_emit_data(p,
                          p->pty      ? PROCESS__PROCESS_EVENT__DATA_EVENT__OUTPUT_PTY
                          : err_pipe  ? PROCESS__PROCESS_EVENT__DATA_EVENT__OUTPUT_STDERR
                                      : PROCESS__PROCESS_EVENT__DATA_EVENT__OUTPUT_STDOUT,
                          data, (size_t)k);
        process_update_reading(p);
}

/* Writes queued input; returns < 0 when the reader is gone. */
static int process_flush_input(struct process *p)
{
        int fd = p->pty ? p->out_fd : p->stdin_fd;

        while (buf_avail(&p->input) > 0) {
                ssize_t k = write(fd, buf_head(&p->input), buf_avail(&p->input));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                buf_consume(&p->input, (size_t)k);
        }
        if (buf_avail(&p->input) == 0) {
                buf_done(&p->input);
                if (p->close_stdin_queued)
                        process_close_stdin_now(p);
        }
        return 0;
}

static void process_out_event(struct loop_io *io, uint32_t events)
{
        struct process *p = io->userdata;
        bool err_pipe = io == &p->err_io;

        if (!err_pipe && p->pty && (events & EPOLLOUT) && process_flush_input(p) < 0)
                buf_done(&p->input);
        /* An ended process stays allocated (retained), so p is valid after this. */
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                process_read(p, err_pipe);
        process_update_events(p);
}

static void process_stdin_event(struct loop_io *io, uint32_t events)
{
        struct process *p = io->userdata;

        if ((events & EPOLLERR) || process_flush_input(p) < 0) {
                /* The process closed its stdin: what is queued can never be read. */
                process_close_stdin_now(p);
                return;
        }
        process_update_events(p);
}

int process_write_input(struct process *p, bool pty, const uint8_t *data, size_t n, struct nb_error *err)
{
        int fd = p->pty ? p->out_fd : p->stdin_fd;
        int r;

        if (pty != p->pty)
                return nb_error_set(err, -EBADF, pty ? "process %d has no pty (send stdin instead)"
                                                      : "process %d has a pty (send pty input instead)",
                                    (int)p->pid);
        if (fd < 0 || p->close_stdin_queued)
                return nb_error_set(err, -EBADF, pty ? "the pty of process %d is closed"
                                                      : "stdin of process %d is not enabled or already closed",
                                    (int)p->pid);
        if (buf_avail(&p->input) + n > PROCESS_INPUT_MAX)
                return nb_error_set(err, -ENOBUFS, "process %d is not reading its input (%u bytes queued)",
                                    (int)p->pid, PROCESS_INPUT_MAX);
        r = buf_append(&p->input, data, n);
        if (r < 0)
                return nb_error_oom(err);
        if (process_flush_input(p) < 0) {
                buf_done(&p->input);
                if (!p->pty)
                        process_close_stdin_now(p);
                return nb_error_set(err, -EPIPE, "process %d closed its input", (int)p->pid);
        }
        process_update_events(p);
        return 0;
}

int process_close_stdin(struct process *p, struct nb_error *err)
{
        if (p->pty)
                return nb_error_set(err, -ENOTTY, "cannot close stdin of PTY process %d", (int)p->pid);
        if (buf_avail(&p->input) > 0)
                p->close_stdin_queued = true;
        else
                process_close_stdin_now(p);
        return 0;
}

int process_signal(struct process *p, int sig)
{
        if (p->ended)
                return -ESRCH;
        /* The group holds the process and its children (setpgid/setsid in spawn.c). */
        if (kill(-p->pid, sig) < 0 && !p->reaped && kill(p->pid, sig) < 0 && errno != ESRCH)
                return -errno;
        return 0;
}

static void process_lifetime_expired(struct loop_timer *t)
{
        struct process *p = t->userdata;

        log_debug("Process %d reached its Connect-Timeout-Ms lifetime, killing it", (int)p->pid);
        (void)process_signal(p, SIGKILL);
        if (p->owner)
                stream_finish(p->owner, CONNECT_DEADLINE_EXCEEDED, "context deadline exceeded");
}

/* One line per process for the sandbox's logs (`e2b sandbox logs`): its command line,
 * cut short; never its environment. */
static void process_log_start(const struct process *p)
{
        char cmd[256];
        size_t n = 0;

        cmd[0] = 0;
        if (p->config && p->config->cmd)
                n = (size_t)snprintf(cmd, sizeof(cmd), "%s", p->config->cmd);
        for (size_t i = 0; p->config && i < p->config->n_args && n < sizeof(cmd); i++)
                n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " %s", p->config->args[i]);
        log_info("Process %d started%s%s%s: %s%s", (int)p->pid, p->pty ? " with a terminal" : "",
                 p->tag ? ", tag " : "", p->tag ? p->tag : "", cmd, n >= sizeof(cmd) ? "..." : "");
}

int process_new(struct agent *a, const struct spawn_result *sr, bool pty, Process__ProcessConfig *config,
                const char *tag, uint64_t lifetime_usec, struct process **ret)
{
        struct process *p = calloc(1, sizeof(*p));

        if (!p || (tag && !(p->tag = strdup(tag)))) {
                free(p);
                return -ENOMEM;
        }
        p->agent = a;
        p->pid = sr->pid;
        p->pty = pty;
        p->config = config;
        p->stdin_fd = sr->stdin_fd;
        p->out_fd = pty ? sr->pty_fd : sr->stdout_fd;
        p->err_fd = pty ? -EBADF : sr->stderr_fd;
        p->exec_fd = sr->exec_fd;
        p->stdin_io.fd = p->out_io.fd = p->err_io.fd = -EBADF;
        p->next = a->processes;
        if (a->processes)
                a->processes->prev = p;
        a->processes = p;
        process_update_events(p);
        process_log_start(p);
        if (lifetime_usec > 0)
                loop_timer_arm(a->loop, &p->lifetime, loop_now() + lifetime_usec, process_lifetime_expired, p);
        *ret = p;
        return 0;
}

struct process *process_find_pid(struct agent *a, uint32_t pid)
{
        struct process *found = NULL;

        process_prune(a);
        for (struct process *p = a->processes; p; p = p->next) {
                if ((uint32_t)p->pid != pid)
                        continue;
                if (!p->ended)
                        return p;
                if (!found || p->ended_at > found->ended_at)
                        found = p;
        }
        return found;
}

struct process *process_find_tag(struct agent *a, const char *tag)
{
        struct process *found = NULL;

        process_prune(a);
        for (struct process *p = a->processes; p; p = p->next) {
                if (!p->tag || strcmp(p->tag, tag) != 0)
                        continue;
                if (!p->ended)
                        return p;
                if (!found || p->ended_at > found->ended_at)
                        found = p;
        }
        return found;
}

struct process *process_find(struct agent *a, const Process__ProcessSelector *sel)
{
        if (!sel)
                return NULL;
        switch (sel->selector_case) {
        case PROCESS__PROCESS_SELECTOR__SELECTOR_PID:
                return process_find_pid(a, sel->pid);
        case PROCESS__PROCESS_SELECTOR__SELECTOR_TAG:
                return sel->tag ? process_find_tag(a, sel->tag) : NULL;
        default:
                return NULL;
        }
}

void process_reaped(struct agent *a, pid_t pid, int wait_status)
{
        for (struct process *p = a->processes; p; p = p->next)
                if (p->pid == pid && !p->reaped) {
                        p->reaped = true;
                        p->wait_status = wait_status;
                        process_maybe_end(p);
                        return;
                }
}

void process_kill_all(struct agent *a)
{
        for (struct process *p = a->processes; p; p = p->next)
                (void)process_signal(p, SIGKILL);
}

void process_free_all(struct agent *a)
{
        while (a->processes)
                process_free(a->processes);
}
