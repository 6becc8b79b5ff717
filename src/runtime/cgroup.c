/* cgroups: picks v1 or v2 once at runtime_new() and dispatches every sandbox call to
 * cgroup-v1.c or cgroup-v2.c; also holds the small file helpers both share.
 *
 * Layout: <root>/nestbox/<id> (v2) or <ctrl mount>/nestbox/<id> for each v1 hierarchy. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../base/log.h"
#include "runtime-internal.h"

int cgroup_write_at(int dirfd, const char *file, const char *value)
{
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(value);
        ssize_t w;

        fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        w = write(fd, value, n);
        if (w < 0)
                return -errno;
        if ((size_t)w != n)
                return -EIO;
        return 0;
}

int cgroup_read_at(int dirfd, const char *file, char *buf, size_t size)
{
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (size == 0)
                return -EINVAL;
        fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return (int)n;
}

int cgroup_path(char *buf, size_t size, const char *parent, const char *id)
{
        int n = snprintf(buf, size, "%s/%s", parent, id);

        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        return 0;
}

int cgroup_rmdir_retry(const char *path)
{
        /* A cgroup stays busy until its last task has fully exited, which trails the
         * pid namespace's death by a little; memcg offlining can trail further. */
        for (unsigned i = 0; i < 400; i++) {
                struct timespec ts = {0, (i < 20 ? 1 : 5) * 1000000L};

                if (rmdir(path) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return -errno;
                nanosleep(&ts, NULL);
        }
        return -EBUSY;
}

int cgroup_host_probe(const char *root, struct cgroup_host *ret, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        char path[4096];

        if (!root)
                root = "/sys/fs/cgroup";
        if (snprintf(path, sizeof(path), "%s/cgroup.controllers", root) >= (int)sizeof(path))
                return nb_error_set(err, -ENAMETOOLONG, "cgroup root '%.128s' is too long", root);
        /* A cgroup.controllers file at the root means a unified (v2) hierarchy there; a
         * hybrid host (v1 controllers + v2 at /sys/fs/cgroup/unified) is driven as v1,
         * since that is where the controllers are. */
        if (access(path, F_OK) == 0)
                return cgroup_v2_probe(root, ret, err);
        return cgroup_v1_probe(root, ret, err);
}

void cgroup_host_done(struct cgroup_host *h)
{
        for (unsigned i = 0; i < _CG_V1_MAX; i++)
                h->v1_parent[i] = (free(h->v1_parent[i]), NULL);
        h->v2_parent = (free(h->v2_parent), NULL);
}

int cgroup_create(const struct cgroup_host *h, const char *id, const struct cgroup_limits *limits,
                  int *ret_clone_fd, struct nb_error *err)
{
        if (h->version == CGROUP_V2)
                return cgroup_v2_create(h, id, limits, ret_clone_fd, err);
        *ret_clone_fd = -EBADF;
        return cgroup_v1_create(h, id, limits, err);
}

int cgroup_attach(const struct cgroup_host *h, const char *id, pid_t pid, struct nb_error *err)
{
        if (h->version == CGROUP_V2)
                return 0;
        return cgroup_v1_attach(h, id, pid, err);
}

void cgroup_kill(const struct cgroup_host *h, const char *id)
{
        if (h->version == CGROUP_V2)
                cgroup_v2_kill(h, id);
        else
                cgroup_v1_kill(h, id);
}

void cgroup_remove(const struct cgroup_host *h, const char *id)
{
        if (h->version == CGROUP_V2)
                cgroup_v2_remove(h, id);
        else
                cgroup_v1_remove(h, id);
}

int cgroup_freeze(const struct cgroup_host *h, const char *id, bool frozen, struct nb_error *err)
{
        if (h->version == CGROUP_V2)
                return cgroup_v2_freeze(h, id, frozen, err);
        return cgroup_v1_freeze(h, id, frozen, err);
}

int cgroup_usage(const struct cgroup_host *h, const char *id, struct sandbox_usage *ret)
{
        *ret = (struct sandbox_usage){0};
        if (h->version == CGROUP_V2)
                return cgroup_v2_usage(h, id, ret);
        return cgroup_v1_usage(h, id, ret);
}

int cgroup_read_key_at(int dirfd, const char *file, const char *key, uint64_t *ret)
{
        char buf[8192];
        size_t klen = strlen(key);
        int r = cgroup_read_at(dirfd, file, buf, sizeof(buf));

        if (r < 0)
                return r;
        for (const char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
                        *ret = strtoull(line + klen + 1, NULL, 10);
                        return 0;
                }
        return -ENOENT;
}
