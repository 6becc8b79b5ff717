/* User namespace id maps: root inside a sandbox is host uid/gid uid_base, and the
 * sandbox owns [uid_base, uid_base + 65536). Written by the (privileged) parent
 * while the child waits, so the child never needs "setgroups deny" and can still
 * drop its supplementary groups with setgroups(0, NULL). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime-internal.h"

static int write_map(int proc_pid_fd, const char *file, const char *map, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(map);
        ssize_t w;

        fd = openat(proc_pid_fd, file, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open %s of the sandbox's pid 1", file);
        /* A map must be written in one write(2); the kernel refuses a second one. */
        w = write(fd, map, n);
        if (w < 0)
                return nb_error_set_errno(err, -errno, "cannot write %s '%.40s'", file, map);
        if ((size_t)w != n)
                return nb_error_set(err, -EIO, "short write to %s", file);
        return 0;
}

int userns_write_maps(int proc_pid_fd, uint32_t uid_base, struct nb_error *err)
{
        char map[64];
        int r;

        snprintf(map, sizeof(map), "0 %u %u\n", uid_base, RUNTIME_UID_RANGE);
        r = write_map(proc_pid_fd, "uid_map", map, err);
        if (r < 0)
                return r;
        return write_map(proc_pid_fd, "gid_map", map, err);
}
