/* The sandbox's seccomp filter: Docker's default profile (moby profiles/seccomp,
 * the rules that apply without CAP_SYS_ADMIN and friends), made stricter where
 * nestbox's threat model asks for it, compiled once per runtime with libseccomp.
 *
 * Like Docker: an allowlist; everything else fails with EPERM; clone() only
 * without namespace flags; clone3() fails with ENOSYS so libcs fall back to clone();
 * personality() only with the safe personas; socket() except AF_VSOCK; ptrace
 * allowed (safe since 4.8); x86 and x32 accepted beside x86_64, any other
 * architecture kills the process.
 * Stricter than Docker: io_uring_*, name_to_handle_at, clock_adjtime,
 * process_vm_readv/writev are not allowed.
 * Like runc: syscalls newer than this libseccomp knows fail with ENOSYS instead of
 * EPERM, so a template's newer libc takes its fallback (faccessat2-style breakage).
 *
 * The child cannot run libseccomp (it allocates): seccomp_build() exports plain BPF
 * here and seccomp_child_load() installs it with one syscall. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime-internal.h"

static const char *const allowed[] = {
        "accept",
        "accept4",
        "access",
        "adjtimex",
        "alarm",
        "bind",
        "brk",
        "capget",
        "capset",
        "chdir",
        "chmod",
        "chown",
        "chown32",
        "chroot",
        "clock_getres",
        "clock_getres_time64",
        "clock_gettime",
        "clock_gettime64",
        "clock_nanosleep",
        "clock_nanosleep_time64",
        "close",
        "close_range",
        "connect",
        "copy_file_range",
        "creat",
        "dup",
        "dup2",
        "dup3",
        "epoll_create",
        "epoll_create1",
        "epoll_ctl",
        "epoll_ctl_old",
        "epoll_pwait",
        "epoll_pwait2",
        "epoll_wait",
        "epoll_wait_old",
        "eventfd",
        "eventfd2",
        "execve",
        "execveat",
        "exit",
        "exit_group",
        "faccessat",
        "faccessat2",
        "fadvise64",
        "fadvise64_64",
        "fallocate",
        "fanotify_mark",
        "fchdir",
        "fchmod",
        "fchmodat",
        "fchown",
        "fchown32",
        "fchownat",
        "fcntl",
        "fcntl64",
        "fdatasync",
        "fgetxattr",
        "flistxattr",
        "flock",
        "fork",
        "fremovexattr",
        "fsetxattr",
        "fstat",
        "fstat64",
        "fstatat64",
        "fstatfs",
        "fstatfs64",
        "fsync",
        "ftruncate",
        "ftruncate64",
        "futex",
        "futex_time64",
        "futex_waitv",
        "futimesat",
        "getcpu",
        "getcwd",
        "getdents",
        "getdents64",
        "getegid",
        "getegid32",
        "geteuid",
        "geteuid32",
        "getgid",
        "getgid32",
        "getgroups",
        "getgroups32",
        "getitimer",
        "getpeername",
        "getpgid",
        "getpgrp",
        "getpid",
        "getppid",
        "getpriority",
        "getrandom",
        "getresgid",
        "getresgid32",
        "getresuid",
        "getresuid32",
        "getrlimit",
        "get_robust_list",
        "getrusage",
        "getsid",
        "getsockname",
        "getsockopt",
        "get_thread_area",
        "gettid",
        "gettimeofday",
        "getuid",
        "getuid32",
        "getxattr",
        "inotify_add_watch",
        "inotify_init",
        "inotify_init1",
        "inotify_rm_watch",
        "io_cancel",
        "ioctl",
        "io_destroy",
        "io_getevents",
        "io_pgetevents",
        "io_pgetevents_time64",
        "ioprio_get",
        "ioprio_set",
        "io_setup",
        "io_submit",
        "ipc",
        "kill",
        "landlock_add_rule",
        "landlock_create_ruleset",
        "landlock_restrict_self",
        "lchown",
        "lchown32",
        "lgetxattr",
        "link",
        "linkat",
        "listen",
        "listxattr",
        "llistxattr",
        "_llseek",
        "lremovexattr",
        "lseek",
        "lsetxattr",
        "lstat",
        "lstat64",
        "madvise",
        "membarrier",
        "memfd_create",
        "memfd_secret",
        "mincore",
        "mkdir",
        "mkdirat",
        "mknod",
        "mknodat",
        "mlock",
        "mlock2",
        "mlockall",
        "mmap",
        "mmap2",
        "mprotect",
        "mq_getsetattr",
        "mq_notify",
        "mq_open",
        "mq_timedreceive",
        "mq_timedreceive_time64",
        "mq_timedsend",
        "mq_timedsend_time64",
        "mq_unlink",
        "mremap",
        "msgctl",
        "msgget",
        "msgrcv",
        "msgsnd",
        "msync",
        "munlock",
        "munlockall",
        "munmap",
        "nanosleep",
        "newfstatat",
        "_newselect",
        "open",
        "openat",
        "openat2",
        "pause",
        "pidfd_open",
        "pidfd_send_signal",
        "pipe",
        "pipe2",
        "pkey_alloc",
        "pkey_free",
        "pkey_mprotect",
        "poll",
        "ppoll",
        "ppoll_time64",
        "prctl",
        "pread64",
        "preadv",
        "preadv2",
        "prlimit64",
        "process_mrelease",
        "pselect6",
        "pselect6_time64",
        "ptrace",
        "pwrite64",
        "pwritev",
        "pwritev2",
        "read",
        "readahead",
        "readlink",
        "readlinkat",
        "readv",
        "recv",
        "recvfrom",
        "recvmmsg",
        "recvmmsg_time64",
        "recvmsg",
        "remap_file_pages",
        "removexattr",
        "rename",
        "renameat",
        "renameat2",
        "restart_syscall",
        "rmdir",
        "rseq",
        "rt_sigaction",
        "rt_sigpending",
        "rt_sigprocmask",
        "rt_sigqueueinfo",
        "rt_sigreturn",
        "rt_sigsuspend",
        "rt_sigtimedwait",
        "rt_sigtimedwait_time64",
        "rt_tgsigqueueinfo",
        "sched_getaffinity",
        "sched_getattr",
        "sched_getparam",
        "sched_get_priority_max",
        "sched_get_priority_min",
        "sched_getscheduler",
        "sched_rr_get_interval",
        "sched_rr_get_interval_time64",
        "sched_setaffinity",
        "sched_setattr",
        "sched_setparam",
        "sched_setscheduler",
        "sched_yield",
        "seccomp",
        "select",
        "semctl",
        "semget",
        "semop",
        "semtimedop",
        "semtimedop_time64",
        "send",
        "sendfile",
        "sendfile64",
        "sendmmsg",
        "sendmsg",
        "sendto",
        "setfsgid",
        "setfsgid32",
        "setfsuid",
        "setfsuid32",
        "setgid",
        "setgid32",
        "setgroups",
        "setgroups32",
        "setitimer",
        "setpgid",
        "setpriority",
        "setregid",
        "setregid32",
        "setresgid",
        "setresgid32",
        "setresuid",
        "setresuid32",
        "setreuid",
        "setreuid32",
        "setrlimit",
        "set_robust_list",
        "setsid",
        "setsockopt",
        "set_thread_area",
        "set_tid_address",
        "setuid",
        "setuid32",
        "setxattr",
        "shmat",
        "shmctl",
        "shmdt",
        "shmget",
        "shutdown",
        "sigaltstack",
        "signalfd",
        "signalfd4",
        "sigprocmask",
        "sigreturn",
        "socketcall",
        "socketpair",
        "splice",
        "stat",
        "stat64",
        "statfs",
        "statfs64",
        "statx",
        "symlink",
        "symlinkat",
        "sync",
        "sync_file_range",
        "syncfs",
        "sysinfo",
        "tee",
        "tgkill",
        "time",
        "timer_create",
        "timer_delete",
        "timer_getoverrun",
        "timer_gettime",
        "timer_gettime64",
        "timer_settime",
        "timer_settime64",
        "timerfd_create",
        "timerfd_gettime",
        "timerfd_gettime64",
        "timerfd_settime",
        "timerfd_settime64",
        "times",
        "tkill",
        "truncate",
        "truncate64",
        "ugetrlimit",
        "umask",
        "uname",
        "unlink",
        "unlinkat",
        "utime",
        "utimensat",
        "utimensat_time64",
        "utimes",
        "vfork",
        "vmsplice",
        "wait4",
        "waitid",
        "waitpid",
        "write",
        "writev",
        /* added to Docker's profile since (kernel 6.5-6.7); newer glibc uses fchmodat2 */
        "cachestat",
        "fchmodat2",
        "futex_requeue",
        "futex_wait",
        "futex_wake",
        "map_shadow_stack",
        /* x86 family only (libseccomp skips them elsewhere) */
        "arch_prctl",
        "modify_ldt",
};

/* personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26 variants, query. */
static const uint64_t personas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

#define NS_FLAGS                                                                                            \
        (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |          \
         CLONE_NEWCGROUP)

static int add_rules(scmp_filter_ctx ctx, struct nb_error *err)
{
        int r, nr;

        for (size_t i = 0; i < ELEMENTSOF(allowed); i++) {
                nr = seccomp_syscall_resolve_name(allowed[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* newer than this libseccomp: falls under the ENOSYS prefix */
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                if (r < 0)
                        return nb_error_set_errno(err, r, "seccomp: cannot allow %s", allowed[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(personas); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                                     SCMP_A0(SCMP_CMP_EQ, personas[i]));
                if (r < 0)
                        return nb_error_set_errno(err, r, "seccomp: cannot add the personality rule");
        }
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_VSOCK));
        if (r < 0)
                return nb_error_set_errno(err, r, "seccomp: cannot add the socket rule");
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0));
        if (r < 0)
                return nb_error_set_errno(err, r, "seccomp: cannot add the clone rule");
        /* clone3 passes its flags in memory, out of seccomp's reach: refuse it as unknown. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (r < 0)
                return nb_error_set_errno(err, r, "seccomp: cannot add the clone3 rule");
        return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct sock_filter **ret, size_t *ret_n, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ struct sock_filter *prog = NULL;
        off_t size;
        ssize_t n;
        int r;

        fd = memfd_create("nestbox-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "seccomp: memfd_create");
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return nb_error_set_errno(err, r, "seccomp: cannot export the filter");
        size = lseek(fd, 0, SEEK_END);
        if (size <= 0 || size % sizeof(struct sock_filter) != 0)
                return nb_error_set(err, -EINVAL, "seccomp: exported filter has a bad size");
        prog = malloc(size);
        if (!prog)
                return nb_error_oom(err);
        n = pread(fd, prog, size, 0);
        if (n != size)
                return nb_error_set_errno(err, n < 0 ? -errno : -EIO,
                                          "seccomp: cannot read the filter back");
        *ret_n = size / sizeof(struct sock_filter);
        *ret = TAKE_PTR(prog);
        return 0;
}

/* The lowest native syscall number this libseccomp does not know: everything from
 * there up is "newer than the profile". */
static int first_unknown_syscall(void)
{
        uint32_t arch = seccomp_arch_native();
        int last = -1;

        for (int nr = 0; nr < 1024; nr++) {
                char *name = seccomp_syscall_resolve_num_arch(arch, nr);

                if (name)
                        last = nr;
                free(name);
        }
        return last + 1;
}

int seccomp_build(struct sock_fprog *ret, struct nb_error *err)
{
        _cleanup_free_ struct sock_filter *body = NULL;
        struct sock_filter *prog;
        uint32_t native = seccomp_arch_native();
        scmp_filter_ctx ctx;
        size_t n_body = 0;
        int r;

        ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
        if (!ctx)
                return nb_error_set(err, -ENOMEM, "seccomp: cannot initialise libseccomp");
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* binary tree: fewer jumps per syscall */
        if (native == SCMP_ARCH_X86_64) {
                r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
                if (r == 0)
                        r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
                if (r < 0 && r != -EEXIST) {
                        seccomp_release(ctx);
                        return nb_error_set_errno(err, r, "seccomp: cannot add the x86/x32 architectures");
                }
        }
        r = add_rules(ctx, err);
        if (r == 0)
                r = export_bpf(ctx, &body, &n_body, err);
        seccomp_release(ctx);
        if (r < 0)
                return r;

        /* Prefix: native arch, below the x32 range, at or past the first unknown number
         * -> ENOSYS; anything else falls through to libseccomp's program, which starts
         * by loading the arch itself. Jumps in BPF are relative, so prefixing is safe. */
        struct sock_filter prefix[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, native, 0, 4),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 2, 0), /* __X32_SYSCALL_BIT */
                BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)first_unknown_syscall(), 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        };
        if (n_body + ELEMENTSOF(prefix) > BPF_MAXINSNS)
                return nb_error_set(err, -E2BIG, "seccomp: filter too long (%zu instructions)", n_body);
        prog = malloc((n_body + ELEMENTSOF(prefix)) * sizeof(*prog));
        if (!prog)
                return nb_error_oom(err);
        memcpy(prog, prefix, sizeof(prefix));
        memcpy(prog + ELEMENTSOF(prefix), body, n_body * sizeof(*prog));
        ret->filter = prog;
        ret->len = (unsigned short)(n_body + ELEMENTSOF(prefix));
        return 0;
}

void seccomp_done(struct sock_fprog *prog)
{
        free(prog->filter);
        prog->filter = NULL;
        prog->len = 0;
}

/* Child side. Without no_new_privs the kernel requires CAP_SYS_ADMIN in the current
 * user namespace, which the child still has: this runs last, right before exec. */
int seccomp_child_load(const struct sock_fprog *prog)
{
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
                return -errno;
        return 0;
}
