/* Starting a sandbox's pid 1: clone3() into fresh namespaces, the parent/child
 * handshake, and everything the child does before it becomes the agent.
 *
 *   parent                                   child (new user/mnt/pid/uts/ipc/net ns)
 *   clone3(CLONE_PIDFD [|CLONE_INTO_CGROUP])  closes fds it was not given,
 *                                             resets signals, blocks on sync_fd
 *   writes uid_map/gid_map, v1 cgroup.procs,
 *   oom_score_adj, builds the overlay root
 *   sends "go" + the root mount fd  ------>   setresuid(0) (= uid_base), cgroup ns,
 *                                             mounts, hostname, lo, pivot_root,
 *                                             fds 0-3, caps, seccomp, execveat(agent)
 *   reads sync_fd: EOF = exec done     <---   or a child_report {errno, what}
 *
 * The daemon is multi-threaded, so the child (a copy of one thread) never allocates
 * or takes a lock: it works on child_args, which the parent filled in. sync_fd is
 * SOCK_SEQPACKET: one message per report, and it carries the mount fd. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime-internal.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* Our own copy of the kernel's struct clone_args (5.7 layout): <linux/sched.h> and
 * glibc's <sched.h> do not mix. */
struct nb_clone_args {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
                set_tid_size, cgroup;
};

#define START_TIMEOUT_MS 10000

/* ---- child side ---------------------------------------------------------- */

static void child_copy(char *dst, size_t size, const char *src)
{
        size_t i = 0;

        for (; src && src[i] && i + 1 < size; i++)
                dst[i] = src[i];
        dst[i] = 0;
}

_noreturn_ static void child_fail(int sync_fd, int error, const char *what)
{
        struct child_report rep = {.error = error > 0 ? error : EIO};

        child_copy(rep.what, sizeof(rep.what), what);
        (void)!send(sync_fd, &rep, sizeof(rep), MSG_NOSIGNAL);
        _exit(127);
}

static void child_close_others(const struct child_args *a)
{
        unsigned from = 3;

        /* Another thread may have created fds (not ours, maybe not even CLOEXEC) just
         * before clone3: drop them now so the parent's EOF on sync_fd is not held up by
         * a copy of some other sandbox's socket living in this child. */
        for (unsigned i = 0; i < a->n_keep; i++) {
                unsigned fd = (unsigned)a->keep_fds[i];

                if (fd > from)
                        (void)close_range(from, fd - 1, 0);
                from = fd + 1;
        }
        (void)close_range(from, ~0U, 0);
}

static void child_reset_signals(void)
{
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;

        /* Ignored signals and the mask survive execve; handlers do not. */
        for (int sig = 1; sig < _NSIG; sig++)
                (void)sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static int child_recv_go(int sync_fd, int *ret_fd)
{
        union {
                struct cmsghdr hdr;
                char buf[CMSG_SPACE(sizeof(int))];
        } control;
        char byte = 0;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = &control,
                             .msg_controllen = sizeof(control)};
        struct cmsghdr *c;
        ssize_t n;

        do
                n = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                _exit(127); /* the parent gave up (or died): nobody to report to */
        c = CMSG_FIRSTHDR(&msg);
        if (byte != 'G' || !c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
                errno = EPROTO;
                return -EPROTO;
        }
        memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
        return 0;
}

/* Moves fd to >= 4 so installing fds 0-3 cannot clobber it. */
static int child_fd_high(int fd)
{
        int nfd;

        if (fd < 0 || fd > 3)
                return fd;
        nfd = fcntl(fd, F_DUPFD_CLOEXEC, 4);
        if (nfd < 0)
                return -errno;
        close(fd);
        return nfd;
}

static int child_install(int from, int to)
{
        if (from == to)
                return fcntl(to, F_SETFD, 0) < 0 ? -errno : 0;
        return dup3(from, to, 0) < 0 ? -errno : 0;
}

_noreturn_ static void child_main(const struct child_args *a)
{
        const char *what = NULL;
        int ovl_fd, rootfs_fd, null_fd, r;

        child_close_others(a);
        child_reset_signals();

        r = child_recv_go(a->sync_fd, &ovl_fd);
        if (r < 0)
                child_fail(a->sync_fd, EPROTO, "bad start message from the parent");

        /* Still host uid 0 here (unmapped in the new user namespace, but the owner of the
         * host's root-only directories): open the attach point before becoming uid_base. */
        rootfs_fd = open(a->rootfs_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rootfs_fd < 0)
                child_fail(a->sync_fd, errno, "open the rootfs attach point");

        /* Root inside = host uid_base. Changing ids from the unmapped host 0 keeps our
         * capabilities: the kernel only drops them when leaving the namespace's root.
         * Raw syscalls: glibc's wrappers broadcast the change to every thread it believes
         * exists (SIGSETXID) and wait on a futex for threads this copy does not have. */
        if (syscall(SYS_setresgid, 0, 0, 0) < 0)
                child_fail(a->sync_fd, errno, "setresgid(0) in the user namespace");
        if (syscall(SYS_setgroups, 0, NULL) < 0)
                child_fail(a->sync_fd, errno, "drop supplementary groups");
        if (syscall(SYS_setresuid, 0, 0, 0) < 0)
                child_fail(a->sync_fd, errno, "setresuid(0) in the user namespace");
        /* After the parent put us into our cgroups (v1), so the namespace's root is the
         * sandbox's own cgroup and /proc/self/cgroup shows "/". */
        if (unshare(CLONE_NEWCGROUP) < 0)
                child_fail(a->sync_fd, errno, "unshare the cgroup namespace");
        umask(022);

        r = mounts_child_setup(ovl_fd, rootfs_fd, &what);
        if (r < 0)
                child_fail(a->sync_fd, -r, what);
        close(ovl_fd);
        close(rootfs_fd);

        if (sethostname(a->hostname, strlen(a->hostname)) < 0)
                child_fail(a->sync_fd, errno, "set the hostname");
        if (netns_child_loopback_up() < 0)
                child_fail(a->sync_fd, errno, "bring up the loopback interface");

        /* pid 1's stdio: /dev/null, stderr to agent.log when the parent opened it. */
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0)
                child_fail(a->sync_fd, errno, "open /dev/null");
        null_fd = child_fd_high(null_fd);
        if (null_fd < 0)
                child_fail(a->sync_fd, -null_fd, "move /dev/null");
        if (child_install(null_fd, 0) < 0 || child_install(null_fd, 1) < 0 ||
            child_install(a->log_fd >= 0 ? a->log_fd : null_fd, 2) < 0 || child_install(a->listen_fd, 3) < 0)
                child_fail(a->sync_fd, errno, "install fds 0-3");
        /* Everything else is ours and CLOEXEC already; make sure of it. */
        (void)close_range(4, ~0U, CLOSE_RANGE_CLOEXEC);

        if (a->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(a->sync_fd, errno, "set no_new_privs");
        r = caps_child_drop_bounding(a->last_cap, a->cap_keep);
        if (r < 0)
                child_fail(a->sync_fd, -r, "drop capabilities from the bounding set");
        r = seccomp_child_load(a->seccomp);
        if (r < 0)
                child_fail(a->sync_fd, -r, "load the seccomp filter");

        /* The agent binary was opened on the host: the template needs no copy of it. */
        syscall(SYS_execveat, a->exec_fd, "", a->argv, a->envp, AT_EMPTY_PATH);
        child_fail(a->sync_fd, errno, "execute the agent");
}

/* ---- parent side --------------------------------------------------------- */

int fd_above_stdio(int fd)
{
        int nfd;

        if (fd < 0 || fd > 3)
                return fd;
        nfd = fcntl(fd, F_DUPFD_CLOEXEC, 4);
        nfd = nfd < 0 ? -errno : nfd;
        close(fd);
        return nfd;
}

static int send_go(int sync_fd, int mnt_fd)
{
        union {
                struct cmsghdr hdr;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {0};
        char byte = 'G';
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = &control,
                             .msg_controllen = sizeof(control)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        ssize_t n;

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &mnt_fd, sizeof(int));
        do
                n = sendmsg(sync_fd, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : 0;
}

/* Waits for the child's verdict: EOF once execve() closed its end, or a report. */
static int wait_child(int sync_fd, int pidfd, struct nb_error *err)
{
        struct child_report rep;
        siginfo_t si = {0};
        ssize_t n;
        int r;

        r = poll_one(sync_fd, POLLIN, START_TIMEOUT_MS);
        if (r == -ETIMEDOUT)
                return nb_error_set(err, r, "sandbox did not start within %d ms", START_TIMEOUT_MS);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot wait for the sandbox to start");
        n = recv(sync_fd, &rep, sizeof(rep), 0);
        if (n < 0 && errno != ECONNRESET)
                return nb_error_set_errno(err, -errno, "cannot read the sandbox's start report");
        if (n > 0) {
                rep.what[sizeof(rep.what) - 1] = 0;
                return nb_error_set(err, -rep.error, "sandbox setup failed: cannot %s: %s", rep.what,
                                    strerror(rep.error));
        }
        /* EOF: either execve() succeeded or the child died without a word (killed). */
        if (waitid(P_PIDFD, pidfd, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0)
                return nb_error_set(err, -ECHILD, "the agent exited right after starting (%s %d)",
                                    si.si_code == CLD_EXITED ? "status" : "signal", si.si_status);
        return 0;
}

/* Sorts the fds the child keeps (insertion sort: at most 4). They must all be >= 4 so
 * that installing fds 0-3 in the child cannot clobber one of them. */
static int prepare_keep(struct child_args *a, const int fds[], unsigned n)
{
        a->n_keep = 0;
        for (unsigned i = 0; i < n; i++) {
                int fd = fds[i];
                unsigned j;

                if (fd < 0)
                        continue;
                if (fd < 4)
                        return -EBADF;
                for (j = a->n_keep; j > 0 && a->keep_fds[j - 1] > fd; j--)
                        a->keep_fds[j] = a->keep_fds[j - 1];
                a->keep_fds[j] = fd;
                a->n_keep++;
        }
        return 0;
}

int spawn_sandbox(const struct spawn_params *p, int *ret_pidfd, pid_t *ret_pid,
                  unsigned long long *ret_starttime, struct nb_error *err)
{
        struct child_args *a = p->child;
        _cleanup_close_ int proc_fd = -EBADF, userns_fd = -EBADF, mnt_fd = -EBADF, parent_fd = -EBADF,
                            child_fd = -EBADF;
        int pidfd = -EBADF, sv[2];
        struct nb_clone_args ca = {
                .flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
                         CLONE_NEWNET | CLONE_PIDFD,
                .pidfd = (uint64_t)(uintptr_t)&pidfd,
                .exit_signal = SIGCHLD,
        };
        char path[64];
        long pid;
        int r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return nb_error_set_errno(err, -errno, "cannot create the sandbox's sync socket");
        parent_fd = sv[0];
        child_fd = fd_above_stdio(sv[1]);
        if (child_fd < 0)
                return nb_error_set_errno(err, child_fd, "cannot arrange the sandbox's fds");
        {
                const int keep[] = {child_fd, a->exec_fd, a->listen_fd, a->log_fd};

                r = prepare_keep(a, keep, ELEMENTSOF(keep));
                if (r < 0)
                        return nb_error_set_errno(err, r, "the sandbox's fds must be above 3");
        }
        a->sync_fd = child_fd;

        if (p->cgroup_fd >= 0) {
                ca.flags |= CLONE_INTO_CGROUP;
                ca.cgroup = (uint64_t)p->cgroup_fd;
        }
        pid = syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid < 0) {
                if (errno == ENOSYS)
                        return nb_error_set(err, -EOPNOTSUPP,
                                            "this kernel lacks clone3(); nestbox needs >= 5.19");
                if (errno == ENOSPC || errno == EUSERS)
                        return nb_error_set_errno(err, -errno,
                                                  "cannot create namespaces for the sandbox "
                                                  "(user.max_*_namespaces reached?)");
                return nb_error_set_errno(err, -errno, "cannot clone the sandbox's pid 1");
        }
        if (pid == 0)
                child_main(a);

        *ret_pidfd = pidfd;
        *ret_pid = (pid_t)pid;
        /* The child's end: only the child may hold it, or its EOF never comes. */
        child_fd = safe_close(child_fd);

        snprintf(path, sizeof(path), "/proc/%ld", pid);
        proc_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open %s", path);
        r = userns_write_maps(proc_fd, p->uid_base, err);
        if (r < 0)
                return r;
        r = cgroup_attach(p->cgroups, p->id, (pid_t)pid, err);
        if (r < 0)
                return r;
        /* A memory hog inside is what the OOM killer must pick, never the agent. Children
         * inherit the value, so the agent resets its own children to 0. Lowering it needs
         * CAP_SYS_RESOURCE: without it (runtime_new warned) the agent stays at 0. */
        {
                _cleanup_close_ int fd = openat(proc_fd, "oom_score_adj", O_WRONLY | O_CLOEXEC);

                if (fd < 0 || write(fd, "-1000", 5) != 5) {
                        if (errno != EACCES && errno != EPERM)
                                return nb_error_set_errno(err, -errno,
                                                          "cannot set oom_score_adj of the sandbox's pid 1");
                }
        }
        r = proc_starttime(proc_fd, (pid_t)pid, ret_starttime);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot read the start time of pid %ld", pid);

        userns_fd = openat(proc_fd, "ns/user", O_RDONLY | O_CLOEXEC);
        if (userns_fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open the sandbox's user namespace");
        r = overlay_mount(p->overlay, p->layers, userns_fd, p->upper_fd, p->work_fd, &mnt_fd, err);
        if (r < 0)
                return r;

        r = send_go(parent_fd, mnt_fd);
        if (r < 0) {
                /* The child died before the go: its report, if any, says why. */
                int q = wait_child(parent_fd, pidfd, err);

                return q < 0 ? q : nb_error_set_errno(err, r, "cannot release the sandbox's pid 1");
        }
        mnt_fd = safe_close(mnt_fd);
        return wait_child(parent_fd, pidfd, err);
}
