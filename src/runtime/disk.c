/* A sandbox's writable layer on a filesystem of its own, the size of the template's
 * disk: a sandbox that fills it gets ENOSPC there, as on E2B, instead of filling the
 * filesystem that holds every other sandbox, the catalog and the host.
 *
 * Per sandbox, <state>/sandboxes/<id>/disk.img is a sparse copy of an empty ext4
 * image made once per size by mkfs.ext4 (<state>/disks/ext4-<MB>m.img: no journal,
 * since a sandbox's disk does not outlive the host; no room kept for growing it, which
 * would cost megabytes per copy; no blocks reserved for root, which in a sandbox is not
 * the host's root): 228 KiB of data for 10 GiB. It is attached to a loop device that
 * detaches itself once nothing uses it (LO_FLAGS_AUTOCLEAR; direct I/O, so its data
 * is not cached a second time as the image file's) and mounted as a detached mount:
 * nothing appears in the host's mount table. upper/ and work/ are made in it and
 * handed to overlay_mount(), while the mount's fd is still open: overlayfs clones its
 * upper mount, which it can only do while that is the root of a live (anonymous)
 * namespace. The overlay, attached in the sandbox's own mount namespace, is then the
 * only user of the filesystem, which goes away with it.
 *
 * Measured here: ~3 ms per sandbox (copy, loop 0.7, mount 0.7), ~0.4 MiB of kernel
 * memory. */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../base/log.h"
#include "runtime-internal.h"

#define DISK_LOOP_TRIES 16

extern char **environ;

/* Whether this host can give sandboxes disks: loop devices (absent in many
 * containers) and ext4. */
static bool probe(const char **ret_why)
{
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        _cleanup_close_ int fsfd = -EBADF;

        if (ctl < 0) {
                *ret_why = "no /dev/loop-control";
                return false;
        }
        fsfd = fsopen("ext4", FSOPEN_CLOEXEC);
        if (fsfd < 0) {
                *ret_why = "no ext4 in this kernel";
                return false;
        }
        return true;
}

int disk_host_init(struct disk_host *h, const char *state_dir, struct nb_error *err)
{
        *h = (struct disk_host){.dir_fd = -EBADF};
        pthread_mutex_init(&h->lock, NULL);
        h->dir = path_join(state_dir, "disks");
        if (!h->dir)
                return nb_error_oom(err);
        if (mkdir(h->dir, 0700) < 0 && errno != EEXIST)
                return nb_error_set_errno(err, -errno, "cannot create '%.128s'", h->dir);
        h->dir_fd = open(h->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (h->dir_fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open '%.128s'", h->dir);
        h->available = probe(&h->why_not);
        if (!h->available)
                log_warning("runtime: sandboxes' disks are not bounded here (%s): their writes go to the state "
                            "directory's filesystem, as large as they make them",
                            h->why_not);
        return 0;
}

void disk_host_done(struct disk_host *h)
{
        h->dir_fd = safe_close(h->dir_fd);
        free(h->dir);
        h->dir = NULL;
        pthread_mutex_destroy(&h->lock);
}

/* mkfs.ext4 of an empty image at path (absolute). */
static int run_mkfs(const char *path, uint32_t size_mb, struct nb_error *err)
{
        char size[32];
        /* 4 KiB blocks whatever the size (mke2fs picks 1 KiB for small ones): the loop device's
         * block size, which direct I/O wants to match the host's. */
        char *argv[] = {(char *)"mkfs.ext4", (char *)"-q", (char *)"-F", (char *)"-b", (char *)"4096",
                        (char *)"-O", (char *)"^has_journal,^resize_inode",
                        (char *)"-m", (char *)"0", (char *)"-E",
                        (char *)"lazy_itable_init=1,lazy_journal_init=1,nodiscard", (char *)"-L",
                        (char *)"nestbox-disk", (char *)path, size, NULL};
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int k, status;

        snprintf(size, sizeof(size), "%um", size_mb);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        k = posix_spawnp(&pid, "mkfs.ext4", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (k != 0)
                return nb_error_set_errno(err, -k, "cannot run mkfs.ext4 (apt-get install e2fsprogs)");
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return nb_error_set_errno(err, -errno, "cannot wait for mkfs.ext4");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return nb_error_set(err, -EIO, "mkfs.ext4 of a %u MB sandbox disk failed (status %d)", size_mb,
                                    status);
        return 0;
}

/* The empty image of size_mb, made on first use. Returns an O_RDONLY fd. */
static int empty_image(struct disk_host *h, uint32_t size_mb, struct nb_error *err)
{
        char name[64], tmp[96], path[PATH_MAX];
        int fd, r = 0;

        snprintf(name, sizeof(name), "ext4-%um.img", size_mb);
        pthread_mutex_lock(&h->lock);
        fd = openat(h->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                /* Made under a temporary name: a crash never leaves a half-made image behind
                 * under the real one. */
                snprintf(tmp, sizeof(tmp), ".%s.%d", name, (int)getpid());
                if (snprintf(path, sizeof(path), "%s/%s", h->dir, tmp) >= (int)sizeof(path))
                        r = nb_error_set(err, -ENAMETOOLONG, "the state directory's path is too long");
                else
                        r = run_mkfs(path, size_mb, err);
                if (r >= 0 && renameat(h->dir_fd, tmp, h->dir_fd, name) < 0)
                        r = nb_error_set_errno(err, -errno, "cannot put the sandbox disk image in place");
                if (r < 0)
                        (void)unlinkat(h->dir_fd, tmp, 0);
                else
                        fd = openat(h->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        }
        pthread_mutex_unlock(&h->lock);
        if (r < 0)
                return r;
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open the sandbox disk image '%s'", name);
        return fd;
}

/* Copies src's data extents to dst, leaving its holes holes. */
static int copy_sparse(int src, int dst, struct nb_error *err)
{
        struct stat st;
        off_t data = 0, hole;

        if (fstat(src, &st) < 0 || ftruncate(dst, st.st_size) < 0)
                return nb_error_set_errno(err, -errno, "cannot size the sandbox disk");
        for (;;) {
                data = lseek(src, data, SEEK_DATA);
                if (data < 0 && errno == ENXIO)
                        return 0;
                hole = data < 0 ? -1 : lseek(src, data, SEEK_HOLE);
                if (hole < 0)
                        return nb_error_set_errno(err, -errno, "cannot read the sandbox disk image");
                while (data < hole) {
                        off_t out = data;
                        ssize_t n = copy_file_range(src, &data, dst, &out, (size_t)(hole - data), 0);

                        if (n <= 0)
                                return nb_error_set_errno(err, n < 0 ? -errno : -EIO,
                                                          "cannot copy the sandbox disk image");
                }
        }
}

/* Attaches image to a free loop device; returns an fd of the device, *ret_n its number.
 * The device detaches itself when its last user goes: keep the fd until it is mounted. */
static int loop_attach(int image, int *ret_n, struct nb_error *err)
{
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        struct loop_config cfg = {
                .fd = (uint32_t)image,
                .block_size = 4096,
                .info = {.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO},
        };

        if (ctl < 0)
                return nb_error_set_errno(err, -errno, "cannot open /dev/loop-control");
        /* Another process may take the free device between the two calls: ask again. */
        for (int i = 0; i < DISK_LOOP_TRIES; i++) {
                char dev[32];
                int n = ioctl(ctl, LOOP_CTL_GET_FREE);
                _cleanup_close_ int fd = -EBADF;

                if (n < 0)
                        return nb_error_set_errno(err, -errno, "no free loop device");
                snprintf(dev, sizeof(dev), "/dev/loop%d", n);
                fd = open(dev, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        return nb_error_set_errno(err, -errno, "cannot open %s", dev);
                if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
                        *ret_n = n;
                        return TAKE_FD(fd);
                }
                if (errno != EBUSY)
                        return nb_error_set_errno(err, -errno, "cannot attach the sandbox disk to %s", dev);
        }
        return nb_error_set(err, -EBUSY, "no loop device stayed free for the sandbox disk");
}

/* Mounts /dev/loop<n> (ext4) as a detached mount. Returns the mount fd. */
static int mount_disk(int n, struct nb_error *err)
{
        _cleanup_close_ int fsfd = fsopen("ext4", FSOPEN_CLOEXEC);
        char dev[32];
        int mnt;

        if (fsfd < 0)
                return nb_error_set_errno(err, -errno, "cannot open an ext4 context for the sandbox disk");
        snprintf(dev, sizeof(dev), "/dev/loop%d", n);
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return nb_error_set_errno(err, -errno, "cannot mount the sandbox disk (%s)", dev);
        mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME);
        if (mnt < 0)
                return nb_error_set_errno(err, -errno, "cannot mount the sandbox disk (%s)", dev);
        return mnt;
}

int disk_create(struct disk_host *h, int sandbox_dirfd, uint32_t size_mb, uid_t owner, int *ret_mnt,
                int *ret_upper, int *ret_work, struct nb_error *err)
{
        _cleanup_close_ int empty = -EBADF, image = -EBADF, loop = -EBADF, mnt = -EBADF, upper = -EBADF,
                            work = -EBADF;
        int n = -1, r;

        empty = empty_image(h, size_mb, err);
        if (empty < 0)
                return empty;
        image = openat(sandbox_dirfd, "disk.img", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (image < 0)
                return nb_error_set_errno(err, -errno, "cannot create the sandbox disk");
        r = copy_sparse(empty, image, err);
        if (r < 0)
                return r;
        /* Serialised here: creates running at once would all be given the same free device
         * and all but one find it taken. Other processes on the host still may: loop_attach
         * asks again then. */
        pthread_mutex_lock(&h->lock);
        loop = loop_attach(image, &n, err);
        pthread_mutex_unlock(&h->lock);
        if (loop < 0)
                return loop;
        mnt = mount_disk(n, err);
        if (mnt < 0)
                return mnt;
        /* upper/ is the root dir of the overlay: it must belong to root inside. */
        if (mkdirat(mnt, "upper", 0755) < 0 || fchownat(mnt, "upper", owner, owner, AT_SYMLINK_NOFOLLOW) < 0 ||
            mkdirat(mnt, "work", 0700) < 0)
                return nb_error_set_errno(err, -errno, "cannot make the sandbox disk's directories");
        upper = openat(mnt, "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        work = openat(mnt, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0 || work < 0)
                return nb_error_set_errno(err, -errno, "cannot open the sandbox disk's directories");
        *ret_mnt = TAKE_FD(mnt);
        *ret_upper = TAKE_FD(upper);
        *ret_work = TAKE_FD(work);
        return 0;
}
