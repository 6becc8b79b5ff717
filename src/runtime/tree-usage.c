/* Disk use of a sandbox's own writes, for metrics. The tree belongs to the sandbox:
 * every step is relative to a directory fd opened with O_NOFOLLOW, so a symlink swapped
 * in mid-walk is counted as a symlink and never followed, and a mount point (another
 * file system) is not entered. Depth is bounded so a hostile tree costs bounded fds and
 * stack; what lies deeper, or beyond max_entries, is left out and reported incomplete. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/macro.h"
#include "runtime-internal.h"

#define TREE_USAGE_MAX_DEPTH 48

struct walk {
        dev_t dev;
        uint64_t bytes;
        uint64_t left; /* entries we may still look at */
        bool complete;
};

static void walk_dir(struct walk *w, int fd, unsigned depth)
{
        char buf[4096];
        ssize_t n;

        while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
                for (ssize_t off = 0; off < n;) {
                        struct dirent64 *de = (struct dirent64 *)(buf + off);
                        struct stat st;

                        off += de->d_reclen;
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        if (w->left == 0) {
                                w->complete = false;
                                return;
                        }
                        w->left--;
                        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue; /* removed meanwhile */
                        w->bytes += (uint64_t)st.st_blocks * 512;
                        if (!S_ISDIR(st.st_mode) || st.st_dev != w->dev)
                                continue;
                        if (depth + 1 >= TREE_USAGE_MAX_DEPTH) {
                                w->complete = false;
                                continue;
                        }
                        {
                                _cleanup_close_ int child =
                                        openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                                if (child >= 0)
                                        walk_dir(w, child, depth + 1);
                        }
                }
        }
}

int tree_usage(int dirfd, const char *name, uint64_t max_entries, uint64_t *ret_bytes, bool *ret_complete)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct walk w = {.left = max_entries, .complete = true};
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        w.dev = st.st_dev;
        walk_dir(&w, fd, 0);
        *ret_bytes = w.bytes;
        *ret_complete = w.complete;
        return 0;
}
