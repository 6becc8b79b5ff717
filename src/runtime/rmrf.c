/* Removing a sandbox's directory tree. Its files belong to the sandbox's ids and were
 * written by code we do not trust: never follow a symlink, never leave the filesystem,
 * and survive any depth. The walk holds one directory fd at a time: it descends into
 * the first non-empty subdirectory it meets and climbs back with "..", where the
 * directory it left is now empty and goes on the next pass. Everything before that
 * point was already deleted, so each entry is read about once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime-internal.h"

static int open_dir_nofollow(int dirfd, const char *name)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

/* One pass over fd's entries: deletes files and empty directories. Returns 1 and sets
 * *ret_child to a non-empty subdirectory to descend into, 0 when fd is now empty. */
static int clear_pass(int fd, dev_t dev, int *ret_child)
{
        char buf[16384];
        ssize_t n;

        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
                for (ssize_t off = 0; off < n;) {
                        struct dirent64 *de = (struct dirent64 *)(buf + off);
                        const char *name = de->d_name;
                        struct stat st;
                        bool is_dir;
                        int child;

                        off += de->d_reclen;
                        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                                continue;
                        is_dir = de->d_type == DT_DIR;
                        if (de->d_type == DT_UNKNOWN) {
                                if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                        if (errno == ENOENT)
                                                continue;
                                        return -errno;
                                }
                                is_dir = S_ISDIR(st.st_mode);
                        }
                        if (!is_dir) {
                                if (unlinkat(fd, name, 0) < 0 && errno != ENOENT)
                                        return -errno;
                                continue;
                        }
                        if (unlinkat(fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
                                continue;
                        if (errno != ENOTEMPTY && errno != EEXIST)
                                return -errno;
                        child = open_dir_nofollow(fd, name);
                        if (child < 0)
                                return child;
                        if (fstat(child, &st) < 0 || st.st_dev != dev) {
                                /* A mount point: not ours to empty. */
                                close(child);
                                return -EXDEV;
                        }
                        *ret_child = child;
                        return 1;
                }
        }
        return n < 0 ? -errno : 0;
}

int rm_rf_at(int dirfd, const char *name)
{
        struct stat st;
        unsigned depth = 0;
        int fd, r;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
        fd = open_dir_nofollow(dirfd, name);
        if (fd < 0)
                return fd;
        for (;;) {
                int child = -EBADF;

                r = clear_pass(fd, st.st_dev, &child);
                if (r < 0)
                        break;
                if (r == 1) {
                        close(fd);
                        fd = child;
                        depth++;
                        continue;
                }
                if (depth == 0)
                        break;
                /* Climb: ".." cannot be a symlink, and nothing renames behind us (the
                 * sandbox is dead), so it is the directory we came from. */
                child = open_dir_nofollow(fd, "..");
                close(fd);
                if (child < 0) {
                        r = child;
                        fd = -EBADF;
                        break;
                }
                fd = child;
                depth--;
        }
        safe_close(fd);
        if (r < 0)
                return r;
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}
