/* `nestbox sandbox terminal`: the local tty attached to a PTY in a sandbox, the
 * way E2B's CLI does it (protocol.md §3.7): raw mode, a PTY of the local size,
 * keystrokes batched into one SendInput every 10 ms, SIGWINCH -> Update, and
 * POST /sandboxes/{id}/timeout every 5 s so the sandbox lives while attached.
 *
 * Threads: one pump thread blocks in nestbox_process_wait() writing output;
 * this thread polls stdin, a signalfd and the pump's eventfd. Every signal we
 * care about is blocked and read from the signalfd, so no exit path skips the
 * restore of the local terminal. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "../base/macro.h"
#include "sandbox.h"

#define FLUSH_INPUT_INTERVAL_MS 10 /* E2B CLI's FLUSH_INPUT_INTERVAL_MS */
#define KEEPALIVE_INTERVAL_MS 5000 /* E2B CLI: setTimeout every 5 s */
#define INPUT_MAX (64u << 10)      /* send at once when this much is pending */

/* The terminal state to put back; a global so atexit() can reach it too. */
static struct termios saved_tio;
static int saved_tio_fd = -EBADF;

static void tty_restore(void)
{
        if (saved_tio_fd >= 0) {
                (void)tcsetattr(saved_tio_fd, TCSADRAIN, &saved_tio);
                saved_tio_fd = -EBADF;
        }
}

/* Raw mode as libuv's UV_TTY_MODE_RAW (what node's setRawMode(true) gives the
 * E2B CLI): no echo, no line editing, no signals from keys, output
 * post-processing kept so our own "\n" messages still start a line. */
static int tty_make_raw(int fd)
{
        static bool registered;
        struct termios raw;

        if (tcgetattr(fd, &saved_tio) < 0)
                return -errno;
        raw = saved_tio;
        raw.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
        raw.c_oflag |= ONLCR;
        raw.c_cflag |= CS8;
        raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        saved_tio_fd = fd;
        if (!registered) {
                atexit(tty_restore);
                registered = true;
        }
        if (tcsetattr(fd, TCSADRAIN, &raw) < 0) {
                saved_tio_fd = -EBADF;
                return -errno;
        }
        return 0;
}

static void tty_size(unsigned *ret_cols, unsigned *ret_rows)
{
        struct winsize ws = {0};

        if ((ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 || ws.ws_row == 0) &&
            (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 || ws.ws_row == 0)) {
                ws.ws_col = 80;
                ws.ws_row = 24;
        }
        *ret_cols = ws.ws_col;
        *ret_rows = ws.ws_row;
}

/* The SDK's PTY runs /bin/bash -i -l; minimal templates (busybox) only have sh. */
static int pick_shell(nestbox_sandbox *sb, bool *ret_bash, nestbox_error *err)
{
        static const char *const probe[] = {"/bin/sh", "-c", "test -x /bin/bash", NULL};
        nestbox_process *p = NULL;
        int r, status = 1;

        r = nestbox_process_start(sb, probe, NULL, &p, err);
        if (r >= 0)
                r = nestbox_process_wait(p, NULL, NULL, &status, err);
        nestbox_process_free(p);
        if (r < 0)
                return r;
        *ret_bash = status == 0;
        return 0;
}

struct session {
        nestbox_client *client;
        nestbox_sandbox *sb;
        nestbox_process *pty;
        const struct terminal_opts *opts;
        char input[INPUT_MAX];
        size_t input_len;
        uint64_t input_since; /* when the oldest pending byte arrived */
        uint64_t next_keepalive;
        unsigned cols, rows;
        bool input_error_shown;
};

static void flush_input(struct session *s)
{
        nestbox_error err = {0};

        if (s->input_len == 0)
                return;
        if (nestbox_process_send_input(s->pty, s->input, s->input_len, &err) < 0 && !s->input_error_shown) {
                /* Raw mode: start the line ourselves. */
                fprintf(stderr, "\r\nnestbox: error sending input: %s\r\n", err.message);
                s->input_error_shown = true;
        }
        s->input_len = 0;
}

static void keepalive(struct session *s)
{
        int64_t left_s = 0;
        unsigned timeout = s->opts->keepalive_s;

        if (s->opts->keep_until_ms > 0) {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                left_s =
                        (s->opts->keep_until_ms - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) + 999) /
                        1000;
        }
        if (left_s > (int64_t)timeout)
                timeout = (unsigned)left_s;
        /* A failure here shows up soon enough as the end of the stream. */
        (void)nestbox_sandbox_set_timeout(s->client, nestbox_sandbox_id(s->sb), timeout, NULL);
        s->next_keepalive = mono_ms() + KEEPALIVE_INTERVAL_MS;
}

static void resize(struct session *s)
{
        unsigned cols, rows;

        tty_size(&cols, &rows);
        if (cols == s->cols && rows == s->rows)
                return;
        if (nestbox_process_resize(s->pty, cols, rows, NULL) >= 0) {
                s->cols = cols;
                s->rows = rows;
        }
}

/* Reads what stdin has. Returns 0, or 1 at EOF/hang-up of the local tty. */
static int read_input(struct session *s)
{
        ssize_t k;

        if (s->input_len == sizeof(s->input))
                flush_input(s);
        k = read(STDIN_FILENO, s->input + s->input_len, sizeof(s->input) - s->input_len);
        if (k < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : 1;
        if (k == 0)
                return 1;
        if (s->input_len == 0)
                s->input_since = mono_ms();
        s->input_len += (size_t)k;
        return 0;
}

static int poll_timeout(const struct session *s)
{
        uint64_t now = mono_ms(), next = s->next_keepalive;

        if (s->input_len > 0 && s->input_since + FLUSH_INPUT_INTERVAL_MS < next)
                next = s->input_since + FLUSH_INPUT_INTERVAL_MS;
        return next <= now ? 0 : (int)(next - now);
}

/* Runs the session until the shell ends (returns 0) or a signal/hang-up asks us
 * to stop (returns the signal number, SIGHUP for a lost tty). */
static int session_loop(struct session *s, int sfd, int done_fd)
{
        for (;;) {
                struct pollfd fds[3] = {
                        {.fd = done_fd, .events = POLLIN},
                        {.fd = sfd, .events = POLLIN},
                        {.fd = STDIN_FILENO, .events = POLLIN},
                };
                int k = poll(fds, 3, poll_timeout(s));

                if (k < 0 && errno != EINTR)
                        return SIGHUP;
                if (k > 0 && fds[0].revents)
                        return 0;
                if (k > 0 && fds[1].revents) {
                        struct signalfd_siginfo si;

                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH)
                                        resize(s);
                                else if (si.ssi_signo != SIGPIPE)
                                        return (int)si.ssi_signo;
                        }
                }
                if (k > 0 && fds[2].revents) {
                        if (read_input(s) > 0) {
                                flush_input(s);
                                return SIGHUP;
                        }
                }
                if (s->input_len > 0 && mono_ms() >= s->input_since + FLUSH_INPUT_INTERVAL_MS)
                        flush_input(s);
                if (mono_ms() >= s->next_keepalive)
                        keepalive(s);
        }
}

int sandbox_terminal(nestbox_client *c, nestbox_sandbox *sb, const struct terminal_opts *o)
{
        static const char *const sh[] = {"/bin/sh", "-i", "-l", NULL};
        _cleanup_close_ int sfd = -EBADF;
        nestbox_process_opts *popts = NULL;
        struct io_pump pump = {.done_fd = -EBADF};
        struct session *s = NULL;
        nestbox_error err = {0};
        sigset_t mask;
        bool bash = true;
        int r, sig = 0;

        if (!isatty(STDIN_FILENO)) {
                fprintf(stderr, "nestbox: a terminal needs a tty on stdin (use 'nestbox sandbox exec' for "
                                "commands)\n");
                return -ENOTTY;
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (struct session){.client = c, .sb = sb, .opts = o};
        tty_size(&s->cols, &s->rows);

        r = pick_shell(sb, &bash, &err);
        if (r < 0)
                goto fail_err;
        r = nestbox_process_opts_new(&popts);
        if (r < 0)
                goto fail;
        /* Like the E2B CLI: timeoutMs 0, the PTY lives as long as we are attached. */
        r = nestbox_process_opts_set_timeout_ms(popts, 0);
        if (r >= 0 && !bash)
                r = nestbox_process_opts_set_command(popts, sh);
        if (r < 0)
                goto fail;
        r = nestbox_pty_create(sb, s->cols, s->rows, popts, &s->pty, &err);
        if (r < 0)
                goto fail_err;

        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGPIPE); /* a closed stdout is an EPIPE from write, not a death */
        if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0 ||
            (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
                r = -errno;
                goto fail;
        }
        r = tty_make_raw(STDIN_FILENO);
        if (r < 0)
                goto fail;
        r = io_pump_start(&pump, s->pty);
        if (r < 0) {
                tty_restore();
                goto fail;
        }
        keepalive(s);
        resize(s); /* the window may have changed while we set up */

        sig = session_loop(s, sfd, pump.done_fd);
        if (sig != 0) {
                /* Leaving on a signal or a lost tty: do not leave a shell behind. */
                (void)nestbox_process_kill(s->pty, NULL);
                nestbox_process_cancel(s->pty);
        }
        io_pump_join(&pump);
        tty_restore();

        if (sig != 0) {
                if (sig != SIGHUP)
                        fprintf(stderr, "nestbox: %s, closed the terminal\n", strsignal(sig));
                r = 128 + sig;
        } else if (pump.wait_r < 0) {
                fprintf(stderr, "nestbox: %s\n", pump.err.message);
                r = pump.wait_r;
        } else {
                r = pump.exit_code & 0xff;
        }
        nestbox_process_free(s->pty);
        nestbox_process_opts_free(popts);
        free(s);
        return r;

fail_err:
        fprintf(stderr, "nestbox: %s\n", err.message);
        goto out;
fail:
        fprintf(stderr, "nestbox: cannot open a terminal: %s\n", strerror(-r));
out:
        /* The PTY has no timeout: never leave it running in the sandbox. */
        if (s->pty)
                (void)nestbox_process_kill(s->pty, NULL);
        nestbox_process_free(s->pty);
        nestbox_process_opts_free(popts);
        free(s);
        return r;
}
