/* Processes seen from the host: the start time that tells a pid's reuse apart, and
 * waiting for a pid 1 that may or may not be our child (after a daemon restart it is
 * not: then only its pidfd tells us when it is gone). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime-internal.h"

int proc_starttime(int proc_pid_fd, pid_t pid, unsigned long long *ret)
{
        _cleanup_close_ int fd = -EBADF;
        char buf[1024], path[64], *p, *end;
        ssize_t n;

        if (proc_pid_fd >= 0)
                fd = openat(proc_pid_fd, "stat", O_RDONLY | O_CLOEXEC);
        else {
                snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return errno == ESRCH ? -ESRCH : -errno;
        buf[n] = 0;
        /* comm (field 2) may hold spaces and parentheses: count from the last ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        p++;
        for (int field = 2; field < 22; field++) {
                p = strchr(p, ' ');
                if (!p)
                        return -EIO;
                p++;
        }
        errno = 0;
        *ret = strtoull(p, &end, 10);
        if (errno != 0 || end == p)
                return -EIO;
        return 0;
}

int poll_one(int fd, short events, int timeout_ms)
{
        struct pollfd pfd = {.fd = fd, .events = events};
        int r;

        do
                r = poll(&pfd, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

int pidfd_wait_exit(int pidfd, int timeout_ms)
{
        siginfo_t si = {0};
        int r;

        /* A pidfd turns readable when its process has exited, child or not. */
        r = poll_one(pidfd, POLLIN, timeout_ms);
        if (r < 0)
                return r;
        /* Reap it if it is ours; ECHILD when it is not (adopted) or SIGCHLD is ignored. */
        if (waitid(P_PIDFD, pidfd, &si, WEXITED | WNOHANG) < 0 && errno != ECHILD)
                return -errno;
        return 0;
}
