/* signalfd-based reaper and shutdown (see signals.h). Reaping happens on every
 * SIGCHLD until waitpid says nothing is left: signals coalesce, so one SIGCHLD
 * may stand for many children. */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "process.h"

void signals_reap(struct agent *a)
{
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid < 0 && errno == EINTR)
                        continue;
                if (pid <= 0)
                        return; /* 0: children left but none exited; ECHILD: no children */
                process_reaped(a, pid, status);
        }
}

static void signals_shutdown(struct agent *a, int sig)
{
        log_info("Received SIG%s, stopping every process and exiting", sig == SIGTERM ? "TERM" : "INT");
        process_kill_all(a);
        /* As pid 1 everything in the namespace is ours to stop (kill(-1) skips us). */
        if (a->pid1)
                (void)kill(-1, SIGKILL);
        loop_quit(a->loop, 0);
}

static void signals_event(struct loop_io *io, uint32_t events)
{
        struct agent *a = io->userdata;
        struct signalfd_siginfo si[8];
        ssize_t k;

        k = read(a->signal_fd, si, sizeof(si));
        if (k < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_error_errno(-errno, "Failed to read the signalfd: %m");
                return;
        }
        for (size_t i = 0; i < (size_t)k / sizeof(si[0]); i++) {
                if (si[i].ssi_signo == SIGCHLD)
                        signals_reap(a);
                else if (si[i].ssi_signo == SIGTERM || si[i].ssi_signo == SIGINT)
                        signals_shutdown(a, (int)si[i].ssi_signo);
        }
}

int signals_setup(struct agent *a)
{
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        a->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (a->signal_fd < 0)
                return -errno;
        r = loop_io_add(a->loop, &a->signal_io, a->signal_fd, EPOLLIN, signals_event, a);
        if (r < 0)
                return r;
        /* Children that exited before the signalfd existed raised no readable event. */
        signals_reap(a);
        return 0;
}
