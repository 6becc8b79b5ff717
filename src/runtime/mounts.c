/* The sandbox's mount namespace, built by the child before exec (child side: no
 * allocation, only syscalls on precomputed or literal strings; see runtime-internal.h).
 *
 * Order matters:
 *   1. everything private, so nothing propagates to or from the host;
 *   2. the overlay root (built by the parent) attached on <sandbox dir>/rootfs;
 *   3. proc and sysfs mounted while the host's /proc and /sys are still visible in
 *      this namespace: the kernel refuses a new proc/sysfs in a user namespace that
 *      cannot already see a full one (mount_too_revealing);
 *   4. /dev as a small tmpfs with the host's harmless nodes bind-mounted in (a user
 *      namespace cannot mknod), devpts, shm;
 *   5. Docker's masked and read-only /proc and /sys paths;
 *   6. pivot_root(".", ".") and detach the old root: the host's tree is gone.
 * Mount points come from the template, so each top-level one is checked with
 * AT_SYMLINK_NOFOLLOW first: a symlinked /proc must not lead a mount elsewhere. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime-internal.h"

#define FAIL(what)                                                                                          \
        do {                                                                                                \
                *ret_what = (what);                                                                         \
                return -errno;                                                                              \
        } while (0)

static int ensure_dir(const char *name, mode_t mode)
{
        struct stat st;

        if (fstatat(AT_FDCWD, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (!S_ISDIR(st.st_mode)) {
                        errno = ENOTDIR;
                        return -ENOTDIR;
                }
                if (mode == 01777 && (st.st_mode & 07777) != 01777 && fchmodat(AT_FDCWD, name, mode, 0) < 0)
                        return -errno;
                return 0;
        }
        if (errno != ENOENT)
                return -errno;
        if (mkdirat(AT_FDCWD, name, mode) < 0 && errno != EEXIST)
                return -errno;
        /* mkdir applies the umask: /tmp needs its sticky, world-writable mode explicitly. */
        if (fchmodat(AT_FDCWD, name, mode, 0) < 0)
                return -errno;
        return 0;
}

static const struct {
        const char *host, *inside;
} dev_nodes[] = {
        {"/dev/null", "dev/null"},     {"/dev/zero", "dev/zero"},       {"/dev/full", "dev/full"},
        {"/dev/random", "dev/random"}, {"/dev/urandom", "dev/urandom"}, {"/dev/tty", "dev/tty"},
};

static const struct {
        const char *target, *inside;
} dev_links[] = {
        {"pts/ptmx", "dev/ptmx"},          {"/proc/self/fd", "dev/fd"},
        {"/proc/self/fd/0", "dev/stdin"},  {"/proc/self/fd/1", "dev/stdout"},
        {"/proc/self/fd/2", "dev/stderr"},
};

static int setup_dev(const char **ret_what)
{
        int fd;

        if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k,nr_inodes=4096") < 0)
                FAIL("mount tmpfs on /dev");
        for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
                fd = openat(AT_FDCWD, dev_nodes[i].inside, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
                if (fd < 0)
                        FAIL("create a device node placeholder in /dev");
                close(fd);
                if (mount(dev_nodes[i].host, dev_nodes[i].inside, NULL, MS_BIND, NULL) < 0)
                        FAIL("bind-mount a host device node into /dev");
        }
        for (size_t i = 0; i < ELEMENTSOF(dev_links); i++)
                if (symlinkat(dev_links[i].target, AT_FDCWD, dev_links[i].inside) < 0)
                        FAIL("create a /dev symlink");
        if (mkdirat(AT_FDCWD, "dev/pts", 0755) < 0)
                FAIL("create /dev/pts");
        /* gid 5 is "tty" in Debian-like templates; it is mapped, so devpts accepts it. */
        if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0)
                FAIL("mount devpts on /dev/pts");
        if (mkdirat(AT_FDCWD, "dev/shm", 01777) < 0)
                FAIL("create /dev/shm");
        if (mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0)
                FAIL("mount tmpfs on /dev/shm");
        return 0;
}

/* Docker's default masked and read-only paths (moby oci/defaults.go). Most are already
 * unreadable to a user namespace's root; masking them costs ~20 us and closes the rest. */
static const char *const masked_files[] = {
        "proc/kcore",      "proc/keys",        "proc/latency_stats",
        "proc/timer_list", "proc/timer_stats", "proc/sched_debug",
};
static const char *const masked_dirs[] = {
        "proc/acpi", "proc/asound", "proc/scsi", "sys/firmware", "sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
        "proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger",
};

static int mask_paths(const char **ret_what)
{
        for (size_t i = 0; i < ELEMENTSOF(masked_files); i++)
                if (mount("dev/null", masked_files[i], NULL, MS_BIND, NULL) < 0 && errno != ENOENT)
                        FAIL("mask a /proc file");
        for (size_t i = 0; i < ELEMENTSOF(masked_dirs); i++)
                if (mount("tmpfs", masked_dirs[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          "size=0,mode=755") < 0 &&
                    errno != ENOENT)
                        FAIL("mask a /proc or /sys directory");
        for (size_t i = 0; i < ELEMENTSOF(readonly_paths); i++) {
                if (mount(readonly_paths[i], readonly_paths[i], NULL, MS_BIND | MS_REC, NULL) < 0) {
                        if (errno == ENOENT)
                                continue;
                        FAIL("bind a read-only /proc path");
                }
                /* The remount must repeat the flags the kernel locked on proc's mount. */
                if (mount(NULL, readonly_paths[i], NULL,
                          MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        FAIL("make a /proc path read-only");
        }
        return 0;
}

int mounts_child_setup(int ovl_fd, int rootfs_fd, const char **ret_what)
{
        int r;

        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                FAIL("make the mount namespace private");
        if (move_mount(ovl_fd, "", rootfs_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                FAIL("attach the overlay root");
        /* The fsmount() fd now names the attached mount's root. */
        if (fchdir(ovl_fd) < 0)
                FAIL("enter the overlay root");

        if ((r = ensure_dir("proc", 0555)) < 0)
                FAIL("prepare /proc (the template's /proc must be a directory)");
        if ((r = ensure_dir("sys", 0555)) < 0)
                FAIL("prepare /sys (the template's /sys must be a directory)");
        if ((r = ensure_dir("dev", 0755)) < 0)
                FAIL("prepare /dev (the template's /dev must be a directory)");
        if ((r = ensure_dir("tmp", 01777)) < 0)
                FAIL("prepare /tmp (the template's /tmp must be a directory)");

        if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                FAIL("mount proc on /proc");
        if (mount("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                FAIL("mount sysfs on /sys");
        r = setup_dev(ret_what);
        if (r < 0)
                return r;
        r = mask_paths(ret_what);
        if (r < 0)
                return r;

        /* pivot_root(2) NOTES: with new_root == put_old the old root ends up stacked on
         * "/", and detaching "." removes it (and every host mount under it). */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                FAIL("pivot_root into the overlay root");
        if (umount2(".", MNT_DETACH) < 0)
                FAIL("detach the host's root");
        if (chdir("/") < 0)
                FAIL("chdir to the new root");
        return 0;
}
