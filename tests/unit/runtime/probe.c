/* Test probe: stands in for nestbox-agent as a sandbox's pid 1 (static, no libc
 * assumptions about the template). Test-only protocol on the listening fd 3: per
 * connection, one line "[@<timeout_ms> ]<command>\n"; the probe runs it with
 * /bin/sh -c (stdout+stderr to the connection) and ends with "\n@@exit=<status>\n"
 * (128+signal when killed). On timeout it SIGKILLs the command's process group until
 * it is gone. "!sys" instead reports how the seccomp filter answers a few syscalls.
 * Like the real agent, it reaps orphans and resets oom_score_adj to 0 in children
 * (it inherits -1000 as pid 1, and children must stay OOM-killable). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void reap_all(pid_t want, int *want_status, int *got)
{
        int st;
        pid_t p;

        while ((p = waitpid(-1, &st, WNOHANG)) > 0)
                if (p == want) {
                        *want_status = st;
                        *got = 1;
                }
}

static long sys_errno(long r)
{
        return r < 0 ? errno : 0;
}

static void report_syscalls(int conn)
{
        char out[1024];
        int n = 0;

        /* Bogus arguments everywhere: if the filter let one through, the kernel would
         * answer EINVAL/EFAULT/EBADF, not EPERM. */
        n += snprintf(out + n, sizeof(out) - n, "unshare=%ld\n", sys_errno(unshare(CLONE_NEWUSER)));
        n += snprintf(out + n, sizeof(out) - n, "mount=%ld\n",
                      sys_errno(mount("none", "/tmp", "tmpfs", 0, NULL)));
        n += snprintf(out + n, sizeof(out) - n, "keyctl=%ld\n",
                      sys_errno(syscall(SYS_keyctl, 0, 0, 0, 0, 0)));
        n += snprintf(out + n, sizeof(out) - n, "clone3=%ld\n", sys_errno(syscall(SYS_clone3, NULL, 0)));
        n += snprintf(out + n, sizeof(out) - n, "clone_newns=%ld\n",
                      sys_errno(syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0)));
        n += snprintf(out + n, sizeof(out) - n, "personality=%ld\n",
                      sys_errno(personality(ADDR_NO_RANDOMIZE)));
        n += snprintf(out + n, sizeof(out) - n, "io_uring_setup=%ld\n",
                      sys_errno(syscall(SYS_io_uring_setup, 1, NULL)));
        n += snprintf(out + n, sizeof(out) - n, "getpid=%ld\n", (long)getpid());
        (void)!write(conn, out, n);
}

static int read_line(int conn, char *buf, size_t size)
{
        size_t n = 0;

        while (n + 1 < size) {
                ssize_t r = read(conn, buf + n, 1);

                if (r <= 0)
                        return -1;
                if (buf[n] == '\n')
                        break;
                n++;
        }
        buf[n] = 0;
        return 0;
}

static void run_command(int conn, char *line)
{
        long timeout_ms = 30000;
        char *cmd = line, trailer[64];
        int status = 0, got = 0, pidfd;
        pid_t pid;

        if (line[0] == '@') {
                timeout_ms = strtol(line + 1, &cmd, 10);
                while (*cmd == ' ')
                        cmd++;
        }
        pid = fork();
        if (pid < 0) {
                int n = snprintf(trailer, sizeof(trailer), "fork: %s\n@@exit=255\n", strerror(errno));
                (void)!write(conn, trailer, n);
                return;
        }
        if (pid == 0) {
                int fd = open("/proc/self/oom_score_adj", O_WRONLY);

                if (fd >= 0) {
                        (void)!write(fd, "0", 1);
                        close(fd);
                }
                setpgid(0, 0);
                fd = open("/dev/null", O_RDONLY);
                dup2(fd, 0);
                dup2(conn, 1);
                dup2(conn, 2);
                if (strcmp(cmd, "!sys") == 0) {
                        report_syscalls(1);
                        _exit(0);
                }
                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
                _exit(127);
        }
        setpgid(pid, pid);
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        {
                struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
                struct timespec start, now;

                clock_gettime(CLOCK_MONOTONIC, &start);
                for (;;) {
                        long left;

                        clock_gettime(CLOCK_MONOTONIC, &now);
                        left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 +
                                             (now.tv_nsec - start.tv_nsec) / 1000000);
                        if (left <= 0)
                                break;
                        if (poll(&pfd, 1, left > 100 ? 100 : (int)left) > 0)
                                break;
                        reap_all(pid, &status, &got); /* orphans reparented to us */
                }
        }
        /* Whatever is left of the command's group goes, until the group is empty (a fork
         * bomb keeps forking while we kill). Zombies count against pids.max: reap too. */
        while (kill(-pid, SIGKILL) == 0) {
                struct timespec ts = {0, 1000000};

                reap_all(pid, &status, &got);
                nanosleep(&ts, NULL);
        }
        while (!got) {
                int st;
                pid_t p = waitpid(-1, &st, 0);

                if (p < 0)
                        break;
                if (p == pid) {
                        status = st;
                        got = 1;
                }
        }
        reap_all(-1, &status, &got);
        close(pidfd);
        {
                int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                int n = snprintf(trailer, sizeof(trailer), "\n@@exit=%d\n", code);

                (void)!write(conn, trailer, n);
        }
}

int main(void)
{
        char line[4096];

        signal(SIGPIPE, SIG_IGN);
        for (;;) {
                struct pollfd pfd = {.fd = 3, .events = POLLIN};
                int dummy = 0, got = 0, conn;

                if (poll(&pfd, 1, 200) <= 0) {
                        reap_all(-1, &dummy, &got);
                        continue;
                }
                conn = accept4(3, NULL, NULL, SOCK_CLOEXEC);
                if (conn < 0)
                        continue;
                if (read_line(conn, line, sizeof(line)) == 0)
                        run_command(conn, line);
                close(conn);
        }
}
