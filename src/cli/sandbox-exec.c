/* `nestbox sandbox exec ID -- CMD...`: runs argv in the sandbox with its
 * stdout/stderr on ours and its exit status as ours. When our stdin is not a
 * tty (a pipe, a file) it is forwarded with SendInput and closed with
 * CloseStdin at EOF, as E2B's CLI exec does. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../base/macro.h"
#include "sandbox.h"

#define CHUNK (32u << 10)

/* Forwards one read of stdin. Returns 1 at EOF (after closing the remote stdin), 0, or -errno. */
static int forward_stdin(nestbox_process *p, nestbox_error *err)
{
        char chunk[CHUNK];
        ssize_t k = read(STDIN_FILENO, chunk, sizeof(chunk));

        if (k < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (k <= 0) {
                int r = nestbox_process_close_stdin(p, err);

                return r < 0 ? r : 1;
        }
        return nestbox_process_send_input(p, chunk, (size_t)k, err);
}

int sandbox_exec(nestbox_sandbox *sb, char *const *argv)
{
        _cleanup_close_ int sfd = -EBADF;
        nestbox_process_opts *opts = NULL;
        nestbox_process *p = NULL;
        struct io_pump pump = {.done_fd = -EBADF};
        bool forward = !isatty(STDIN_FILENO);
        nestbox_error err = {0};
        sigset_t mask;
        bool cancel = false;
        int r, sig = 0;

        r = nestbox_process_opts_new(&opts);
        /* A command from the CLI runs until it is done: no 60 s SDK default. */
        if (r >= 0)
                r = nestbox_process_opts_set_timeout_ms(opts, 0);
        if (r >= 0)
                r = nestbox_process_opts_set_stdin(opts, forward);
        if (r < 0) {
                nestbox_process_opts_free(opts);
                fprintf(stderr, "nestbox: %s\n", strerror(-r));
                return r;
        }
        r = nestbox_process_start(sb, (const char *const *)argv, opts, &p, &err);
        nestbox_process_opts_free(opts);
        if (r < 0) {
                fprintf(stderr, "nestbox: %s\n", err.message);
                return r;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGPIPE);
        if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0 ||
            (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
            (r = io_pump_start(&pump, p)) < 0) {
                r = r < 0 ? r : -errno;
                fprintf(stderr, "nestbox: %s\n", strerror(-r));
                (void)nestbox_process_kill(p, NULL);
                nestbox_process_free(p);
                return r;
        }

        for (;;) {
                struct pollfd fds[3] = {
                        {.fd = pump.done_fd, .events = POLLIN},
                        {.fd = sfd, .events = POLLIN},
                        {.fd = forward ? STDIN_FILENO : -1, .events = POLLIN},
                };
                struct signalfd_siginfo si;

                if (poll(fds, 3, -1) < 0 && errno != EINTR) {
                        cancel = true;
                        break;
                }
                if (fds[0].revents)
                        break;
                if (fds[1].revents && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
                    si.ssi_signo != SIGPIPE) {
                        sig = (int)si.ssi_signo;
                        break;
                }
                if (fds[2].revents) {
                        r = forward_stdin(p, &err);
                        if (r != 0)
                                forward = false;
                        /* -ENOENT: the process already ended; its end event is on its way. */
                        if (r < 0 && r != -ENOENT)
                                fprintf(stderr, "nestbox: cannot forward stdin: %s\n", err.message);
                }
        }
        if (sig != 0)
                (void)nestbox_process_kill(p, NULL);
        if (sig != 0 || cancel)
                nestbox_process_cancel(p);
        io_pump_join(&pump);
        if (sig != 0)
                r = 128 + sig;
        else if (pump.wait_r < 0) {
                fprintf(stderr, "nestbox: %s\n", pump.err.message);
                r = pump.wait_r;
        } else
                r = pump.exit_code & 0xff;
        nestbox_process_free(p);
        return r;
}
