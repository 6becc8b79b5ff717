/* user.e2b.* metadata (see fs-xattr.h). */
#include "fs-xattr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "../wire/jsonstr.h"
#include "macro.h"

#define XATTR_LIST_MAX_BYTES (64u << 10)
#define XATTR_VALUE_MAX_BYTES (64u << 10)

void fs_meta_done(struct fs_meta_set *m)
{
        for (size_t i = 0; i < m->n; i++) {
                free(m->v[i].key);
                free(m->v[i].value);
        }
        free(m->v);
        *m = (struct fs_meta_set){0};
}

int fs_meta_set_add(struct fs_meta_set *m, const char *key, const char *value)
{
        struct fs_meta *v;
        char *k, *val;

        val = strdup(value);
        if (!val)
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i].key, key) == 0) {
                        free(m->v[i].value);
                        m->v[i].value = val;
                        return 0;
                }
        k = strdup(key);
        v = k ? realloc(m->v, (m->n + 1) * sizeof(*v)) : NULL;
        if (!v) {
                free(k);
                free(val);
                return -ENOMEM;
        }
        m->v = v;
        m->v[m->n++] = (struct fs_meta){.key = k, .value = val};
        return 0;
}

static int check_printable(const char *what, const char *key, const char *s, struct nb_error *err)
{
        for (size_t i = 0; s[i]; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c < 0x20 || c > 0x7e)
                        return nb_error_set(err, -EINVAL,
                                            "invalid metadata: %s '%.64s' contains non-printable-ASCII byte 0x%02x at "
                                            "offset %zu",
                                            what, key, c, i);
        }
        return 0;
}

int fs_meta_validate(const struct fs_meta_set *m, struct nb_error *err)
{
        size_t total = 0;
        int r;

        for (size_t i = 0; i < m->n; i++) {
                const char *k = m->v[i].key, *v = m->v[i].value;

                if (!k[0])
                        return nb_error_set(err, -EINVAL, "invalid metadata: metadata key must not be empty");
                if (strlen(k) > FS_META_KEY_MAX)
                        return nb_error_set(err, -EINVAL, "invalid metadata: metadata key '%.64s...' exceeds %zu bytes",
                                            k, FS_META_KEY_MAX);
                if ((r = check_printable("key", k, k, err)) < 0 || (r = check_printable("value for key", k, v, err)) < 0)
                        return r;
                total += sizeof(FS_META_PREFIX) - 1 + strlen(k) + strlen(v);
        }
        if (total > FS_META_TOTAL_MAX)
                return nb_error_set(err, -EINVAL, "invalid metadata: total metadata size %zu exceeds %d bytes", total,
                                    FS_META_TOTAL_MAX);
        return 0;
}

/* f*xattr() refuse O_PATH fds (EBADF); the /proc/self/fd magic link reaches the
 * same inode without another path walk. */
static ssize_t list_names(int fd, char *buf, size_t n)
{
        char p[sizeof("/proc/self/fd/") + 12];
        ssize_t k = flistxattr(fd, buf, n);

        if (k >= 0 || errno != EBADF)
                return k;
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        return listxattr(p, buf, n);
}

static ssize_t get_value(int fd, const char *name, char *buf, size_t n)
{
        char p[sizeof("/proc/self/fd/") + 12];
        ssize_t k = fgetxattr(fd, name, buf, n);

        if (k >= 0 || errno != EBADF)
                return k;
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        return getxattr(p, name, buf, n);
}

static bool xattr_unsupported(int e)
{
        return e == ENOTSUP || e == EOPNOTSUPP || e == ENOENT || e == EBADF;
}

int fs_meta_read(int fd, struct fs_meta_set *ret)
{
        _cleanup_free_ char *names = NULL, *value = NULL;
        struct fs_meta_set m = {0};
        ssize_t n;
        int r;

        n = list_names(fd, NULL, 0);
        if (n < 0)
                return xattr_unsupported(errno) ? 0 : -errno;
        if (n == 0)
                return 0;
        if ((size_t)n > XATTR_LIST_MAX_BYTES)
                n = XATTR_LIST_MAX_BYTES;
        names = malloc((size_t)n + 1);
        value = malloc(XATTR_VALUE_MAX_BYTES + 1);
        if (!names || !value)
                return -ENOMEM;
        n = list_names(fd, names, (size_t)n);
        if (n < 0)
                /* ERANGE: the list grew meanwhile; metadata is best effort, as in envd. */
                return xattr_unsupported(errno) || errno == ERANGE ? 0 : -errno;
        names[n] = '\0';
        for (char *p = names; p < names + n; p += strlen(p) + 1) {
                const char *key;
                ssize_t k;

                if (strncmp(p, FS_META_PREFIX, sizeof(FS_META_PREFIX) - 1) != 0)
                        continue;
                key = p + sizeof(FS_META_PREFIX) - 1;
                k = get_value(fd, p, value, XATTR_VALUE_MAX_BYTES);
                if (k < 0)
                        continue; /* removed meanwhile, or too large to be ours */
                value[k] = '\0';
                /* A value set inside the sandbox may hold any bytes; protobuf strings
                 * may not. Skip rather than fail the whole entry (envd does too). */
                if (!utf8_is_valid(key, strlen(key)) || memchr(value, '\0', (size_t)k) ||
                    !utf8_is_valid(value, (size_t)k))
                        continue;
                r = fs_meta_set_add(&m, key, value);
                if (r < 0) {
                        fs_meta_done(&m);
                        return r;
                }
        }
        *ret = m;
        return 0;
}

int fs_meta_write(int fd, const struct fs_meta_set *m, struct nb_error *err)
{
        _cleanup_free_ char *names = NULL;
        ssize_t n;
        int r;

        r = fs_meta_validate(m, err);
        if (r < 0)
                return r;
        n = flistxattr(fd, NULL, 0);
        if (n < 0)
                return nb_error_set_errno(err, -errno, "cannot list extended attributes");
        if (n > 0) {
                names = malloc((size_t)n + 1);
                if (!names)
                        return nb_error_oom(err);
                n = flistxattr(fd, names, (size_t)n);
                if (n < 0)
                        return nb_error_set_errno(err, -errno, "cannot list extended attributes");
                names[n] = '\0';
        }
        /* Stale keys first: O_TRUNC keeps xattrs, and the set replaces the old one. */
        for (char *p = names; p && p < names + n; p += strlen(p) + 1) {
                bool keep = false;

                if (strncmp(p, FS_META_PREFIX, sizeof(FS_META_PREFIX) - 1) != 0)
                        continue;
                for (size_t i = 0; i < m->n && !keep; i++)
                        keep = strcmp(m->v[i].key, p + sizeof(FS_META_PREFIX) - 1) == 0;
                if (!keep && fremovexattr(fd, p) < 0 && errno != ENODATA)
                        return nb_error_set_errno(err, -errno, "cannot remove metadata '%.64s'",
                                                  p + sizeof(FS_META_PREFIX) - 1);
        }
        for (size_t i = 0; i < m->n; i++) {
                char name[sizeof(FS_META_PREFIX) + FS_META_KEY_MAX];

                snprintf(name, sizeof(name), "%s%s", FS_META_PREFIX, m->v[i].key);
                if (fsetxattr(fd, name, m->v[i].value, strlen(m->v[i].value), 0) < 0)
                        return nb_error_set_errno(err, -errno, "cannot write metadata '%.64s'", m->v[i].key);
        }
        return 0;
}
