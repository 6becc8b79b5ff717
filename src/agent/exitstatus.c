/* Go-compatible exit status strings. The names are Go's table for Linux
 * (syscall/zerrors_linux_amd64.go, signalList), not strsignal(3)'s. */
#include "exitstatus.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

static const char *const go_signal_names[] = {
        [SIGHUP] = "hangup",
        [SIGINT] = "interrupt",
        [SIGQUIT] = "quit",
        [SIGILL] = "illegal instruction",
        [SIGTRAP] = "trace/breakpoint trap",
        [SIGABRT] = "aborted",
        [SIGBUS] = "bus error",
        [SIGFPE] = "floating point exception",
        [SIGKILL] = "killed",
        [SIGUSR1] = "user defined signal 1",
        [SIGSEGV] = "segmentation fault",
        [SIGUSR2] = "user defined signal 2",
        [SIGPIPE] = "broken pipe",
        [SIGALRM] = "alarm clock",
        [SIGTERM] = "terminated",
        [SIGSTKFLT] = "stack fault",
        [SIGCHLD] = "child exited",
        [SIGCONT] = "continued",
        [SIGSTOP] = "stopped (signal)",
        [SIGTSTP] = "stopped",
        [SIGTTIN] = "stopped (tty input)",
        [SIGTTOU] = "stopped (tty output)",
        [SIGURG] = "urgent I/O condition",
        [SIGXCPU] = "CPU time limit exceeded",
        [SIGXFSZ] = "file size limit exceeded",
        [SIGVTALRM] = "virtual timer expired",
        [SIGPROF] = "profiling timer expired",
        [SIGWINCH] = "window changed",
        [SIGIO] = "I/O possible",
        [SIGPWR] = "power failure",
        [SIGSYS] = "bad system call",
};

const char *exit_status_signal_name(int sig, char *buf, size_t n)
{
        if (sig > 0 && (size_t)sig < sizeof(go_signal_names) / sizeof(go_signal_names[0]) && go_signal_names[sig])
                return go_signal_names[sig];
        snprintf(buf, n, "signal %d", sig);
        return buf;
}

void exit_status_format(int wait_status, char *buf, size_t n)
{
        char scratch[24];
        int k = 0;

        if (n == 0)
                return;
        buf[0] = '\0';
        if (WIFEXITED(wait_status))
                k = snprintf(buf, n, "exit status %d", WEXITSTATUS(wait_status));
        else if (WIFSIGNALED(wait_status))
                k = snprintf(buf, n, "signal: %s",
                             exit_status_signal_name(WTERMSIG(wait_status), scratch, sizeof(scratch)));
        if (WIFSIGNALED(wait_status) && WCOREDUMP(wait_status) && k >= 0 && (size_t)k < n)
                snprintf(buf + k, n - (size_t)k, " (core dumped)");
}

int exit_status_code(int wait_status)
{
        return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

bool exit_status_exited(int wait_status)
{
        return WIFEXITED(wait_status);
}
