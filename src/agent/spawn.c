/* fork + exec for Start (see spawn.h). Between fork and exec the child only
 * makes syscalls and formats into stack buffers: the PATH candidates, argv and
 * envp are all built before fork. */
#include "spawn.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "macro.h"
#include "pty.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void strv_freep(char ***p)
{
        if (!*p)
                return;
        for (char **s = *p; *s; s++)
                free(*s);
        free(*p);
}

/* The files execve() should try, in order: cmd itself if it has a '/', else
 * every PATH element (from the child's env, as Go's LookPath in the child
 * environment would) joined with cmd. */
static int build_candidates(const struct spawn_spec *s, char ***ret)
{
        const char *path = NULL;
        char **v;
        size_t n = 1, k = 0;

        if (strchr(s->cmd, '/')) {
                v = calloc(2, sizeof(char *));
                if (!v || !(v[0] = strdup(s->cmd))) {
                        free(v);
                        return -ENOMEM;
                }
                *ret = v;
                return 0;
        }
        for (char *const *e = s->envp; *e; e++)
                if (strncmp(*e, "PATH=", 5) == 0)
                        path = *e + 5;
        if (!path)
                path = DEFAULT_PATH;
        for (const char *p = path; *p; p++)
                n += *p == ':';
        v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (const char *p = path;; ) {
                size_t len = strcspn(p, ":");

                /* An empty element means the current directory (POSIX). */
                if (asprintf(&v[k], "%.*s/%s", (int)len, len ? p : ".", s->cmd) < 0) {
                        v[k] = NULL;
                        strv_freep(&v);
                        return -ENOMEM;
                }
                k++;
                if (!p[len])
                        break;
                p += len + 1;
        }
        *ret = v;
        return 0;
}

/* Go spells errno text in lower case ("no such file or directory"). */
static const char *go_strerror(int errnum, char *buf, size_t n)
{
        snprintf(buf, n, "%s", strerror(errnum));
        if (buf[0])
                buf[0] = (char)tolower((unsigned char)buf[0]);
        return buf;
}

_noreturn_ _printf_(2, 3) static void child_fail(int err_fd, const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        if ((size_t)n >= sizeof(msg))
                n = sizeof(msg) - 1;
        (void)!write(err_fd, msg, (size_t)n);
        /* Also on the process's stderr, where a person running the command looks. */
        msg[n] = '\n';
        (void)!write(STDERR_FILENO, msg, (size_t)n + 1);
        _exit(127);
}

static void child_close_fds(int keep)
{
        /* FIXME: the loop is for kernels < 5.9 (no close_range); drop with them. */
        if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) < 0 && errno == ENOSYS) {
                for (int fd = 3; fd < keep; fd++)
                        close(fd);
        }
        if (close_range((unsigned)keep + 1, ~0U, 0) < 0 && errno == ENOSYS)
                for (int fd = keep + 1; fd < 65536; fd++)
                        close(fd);
}

_noreturn_ static void child_run(const struct spawn_spec *s, char **candidates, int stdin_fd, int stdout_fd,
                                 int stderr_fd, int pty_slave, int err_fd)
{
        char ebuf[128];
        sigset_t none;
        int fd, saved = 0;
        bool eacces = false;

        /* The agent blocks the signals it reads through signalfd and ignores SIGPIPE;
         * neither may leak into user processes. */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);

        if (s->pty) {
                /* New session, the pty as controlling terminal: job control and ^C work,
                 * and the whole session can be signalled through the group. */
                if (setsid() < 0)
                        child_fail(err_fd, "setsid: %s", go_strerror(errno, ebuf, sizeof(ebuf)));
                if (ioctl(pty_slave, TIOCSCTTY, 0) < 0)
                        child_fail(err_fd, "cannot set the controlling terminal: %s",
                                   go_strerror(errno, ebuf, sizeof(ebuf)));
                (void)!fchown(pty_slave, s->uid, (gid_t)-1);
                stdin_fd = stdout_fd = stderr_fd = pty_slave;
        } else if (setpgid(0, 0) < 0)
                child_fail(err_fd, "setpgid: %s", go_strerror(errno, ebuf, sizeof(ebuf)));

        /* All source fds are >= 3 (main keeps 0-2 open), so dup2 never clobbers one. */
        if (dup2(stdin_fd, STDIN_FILENO) < 0 || dup2(stdout_fd, STDOUT_FILENO) < 0 ||
            dup2(stderr_fd, STDERR_FILENO) < 0)
                child_fail(err_fd, "cannot set up stdio: %s", go_strerror(errno, ebuf, sizeof(ebuf)));

        /* envd runs every command with oom_score_adj 100 so the OOM killer picks user
         * processes before the agent. Raising it needs no privilege. */
        fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void)!write(fd, "100", 3);
                close(fd);
        }

        if (setgroups(s->n_groups, s->groups) < 0 && !(errno == EPERM && getuid() == s->uid))
                child_fail(err_fd, "setgroups: %s", go_strerror(errno, ebuf, sizeof(ebuf)));
        if (setresgid(s->gid, s->gid, s->gid) < 0)
                child_fail(err_fd, "setgid %u: %s", (unsigned)s->gid, go_strerror(errno, ebuf, sizeof(ebuf)));
        if (setresuid(s->uid, s->uid, s->uid) < 0)
                child_fail(err_fd, "setuid %u: %s", (unsigned)s->uid, go_strerror(errno, ebuf, sizeof(ebuf)));
        if (chdir(s->cwd) < 0)
                child_fail(err_fd, "chdir %s: %s", s->cwd, go_strerror(errno, ebuf, sizeof(ebuf)));

        child_close_fds(err_fd);

        for (char **c = candidates; *c; c++) {
                execve(*c, s->argv, s->envp);
                if (errno == EACCES) {
                        eacces = true;
                        saved = saved ? saved : errno;
                        continue;
                }
                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == ENAMETOOLONG) {
                        continue;
                }
                saved = errno;
                child_fail(err_fd, "fork/exec %s: %s", *c, go_strerror(saved, ebuf, sizeof(ebuf)));
        }
        if (strchr(s->cmd, '/'))
                child_fail(err_fd, "fork/exec %s: %s", s->cmd,
                           go_strerror(eacces ? EACCES : errno, ebuf, sizeof(ebuf)));
        if (eacces)
                child_fail(err_fd, "exec: \"%s\": permission denied", s->cmd);
        child_fail(err_fd, "exec: \"%s\": executable file not found in $PATH", s->cmd);
}

static int set_nonblock(int fd)
{
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

static int make_pipe(int fds[2], bool parent_reads, struct nb_error *err)
{
        if (pipe2(fds, O_CLOEXEC) < 0)
                return nb_error_set_errno(err, -errno, "cannot create a pipe");
        if (set_nonblock(fds[parent_reads ? 0 : 1]) < 0) {
                int r = -errno;
                fds[0] = safe_close(fds[0]);
                fds[1] = safe_close(fds[1]);
                return nb_error_set_errno(err, r, "cannot make a pipe non-blocking");
        }
        return 0;
}

int spawn_process(const struct spawn_spec *s, struct spawn_result *ret, struct nb_error *err)
{
        _cleanup_(strv_freep) char **candidates = NULL;
        _cleanup_close_ int in_r = -EBADF, in_w = -EBADF, out_r = -EBADF, out_w = -EBADF, err_r = -EBADF,
                            err_w = -EBADF, master = -EBADF, slave = -EBADF, exec_r = -EBADF, exec_w = -EBADF;
        int fds[2], r;
        pid_t pid;

        r = build_candidates(s, &candidates);
        if (r < 0)
                return nb_error_oom(err);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return nb_error_set_errno(err, -errno, "cannot create a pipe");
        exec_r = fds[0];
        exec_w = fds[1];
        if (set_nonblock(exec_r) < 0)
                return nb_error_set_errno(err, -errno, "cannot make a pipe non-blocking");

        if (s->pty) {
                r = pty_open(s->rows, s->cols, &master, &slave, err);
                if (r < 0)
                        return r;
        } else {
                r = make_pipe(fds, false, err);
                if (r < 0)
                        return r;
                in_r = fds[0];
                in_w = fds[1];
                if (!s->stdin_pipe) {
                        /* stdin:false reads as /dev/null; a pipe with no writer reads the
                         * same EOF when the sandbox has no /dev/null. */
                        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

                        in_w = safe_close(in_w);
                        if (null_fd >= 0) {
                                safe_close(in_r);
                                in_r = null_fd;
                        }
                }
                r = make_pipe(fds, true, err);
                if (r < 0)
                        return r;
                out_r = fds[0];
                out_w = fds[1];
                r = make_pipe(fds, true, err);
                if (r < 0)
                        return r;
                err_r = fds[0];
                err_w = fds[1];
        }

        pid = fork();
        if (pid < 0)
                return nb_error_set_errno(err, -errno, "cannot fork");
        if (pid == 0)
                child_run(s, candidates, in_r, out_w, err_w, slave, exec_w);

        /* Also set the group from the parent: signals sent right after Start must
         * reach the group even if the child has not run yet. */
        if (!s->pty)
                (void)setpgid(pid, pid);
        *ret = (struct spawn_result){
                .pid = pid,
                .stdin_fd = TAKE_FD(in_w),
                .stdout_fd = TAKE_FD(out_r),
                .stderr_fd = TAKE_FD(err_r),
                .pty_fd = TAKE_FD(master),
                .exec_fd = TAKE_FD(exec_r),
        };
        return 0;
}

void spawn_read_exec_error(int exec_fd, char *buf, size_t n)
{
        ssize_t k;

        if (n == 0)
                return;
        buf[0] = '\0';
        if (exec_fd < 0)
                return;
        do
                k = read(exec_fd, buf, n - 1);
        while (k < 0 && errno == EINTR);
        if (k > 0)
                buf[k] = '\0';
}
