/* Client paths inside the sandbox root (see fs-path.h). Every open goes
 * through openat2(): the kernel, not string checks, keeps `..`, absolute
 * symlinks and symlink swaps inside the root. String work here is only what
 * envd does to a path before using it (expansion, Clean). */
#include "fs-path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "buf.h"
#include "launch.h"
#include "log.h"
#include "macro.h"

#define FS_EVAL_MAX_LINKS 255 /* Go's filepath.EvalSymlinks limit */

static int root_fd = -EBADF;

int fs_root_fd(void)
{
        const char *dir = "/";
        int fd;

        if (root_fd >= 0)
                return root_fd;
        /* Only a test agent (never pid 1) may be pointed at another root. */
        if (getpid() != 1) {
                const char *e = getenv(FS_ROOT_ENV);

                if (e && e[0])
                        dir = e;
        }
        fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to open the filesystem root '%s': %m", dir);
        root_fd = fd;
        return fd;
}

int fs_path_clean(const char *path, char **ret)
{
        size_t n = strlen(path);
        char *out = malloc(n + 2), *o = out;
        const char *p = path;

        if (!out)
                return -ENOMEM;
        /* out always starts with "/" and never ends with one (except "/" itself). */
        *o++ = '/';
        while (*p) {
                const char *end;
                size_t len;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                end = strchrnul(p, '/');
                len = (size_t)(end - p);
                if (len == 1 && p[0] == '.') {
                        /* nothing */
                } else if (len == 2 && p[0] == '.' && p[1] == '.') {
                        /* Back up to the previous '/', never above the root. */
                        while (o > out + 1 && o[-1] != '/')
                                o--;
                        if (o > out + 1)
                                o--;
                } else {
                        if (o > out + 1)
                                *o++ = '/';
                        memcpy(o, p, len);
                        o += len;
                }
                p = end;
        }
        *o = '\0';
        if ((size_t)(o - out) >= PATH_MAX) {
                free(out);
                return -ENAMETOOLONG;
        }
        *ret = out;
        return 0;
}

int fs_path_resolve(const char *path, const char *home, const char *default_workdir, char **ret,
                    struct nb_error *err)
{
        _cleanup_free_ char *joined = NULL;
        int r;

        if (!path)
                path = "";
        /* envd's ResolveDefaultWorkdir: only an empty path means "the workdir". */
        if (!path[0] && default_workdir)
                path = default_workdir;
        if (strlen(path) >= PATH_MAX)
                return nb_error_set(err, -ENAMETOOLONG, "path is longer than %d bytes", PATH_MAX - 1);
        if (path[0] == '~') {
                if (path[1] && path[1] != '/')
                        return nb_error_set(err, -EINVAL,
                                            "failed to expand path '%.128s': cannot expand user-specific home dir",
                                            path);
                if (asprintf(&joined, "%s/%s", home, path + 1) < 0)
                        return nb_error_oom(err);
        } else if (path[0] != '/') {
                if (asprintf(&joined, "%s/%s", home, path) < 0)
                        return nb_error_oom(err);
        }
        r = fs_path_clean(joined ? joined : path, ret);
        if (r == -ENAMETOOLONG)
                return nb_error_set(err, r, "path is longer than %d bytes", PATH_MAX - 1);
        if (r < 0)
                return nb_error_oom(err);
        return 0;
}

const char *fs_path_base(const char *path)
{
        const char *slash = strrchr(path, '/');

        if (!slash || !slash[1])
                return slash ? "/" : path;
        return slash + 1;
}

int fs_path_parent(const char *path, char **ret)
{
        const char *slash = strrchr(path, '/');
        char *s;

        if (!slash || slash == path)
                s = strdup("/");
        else
                s = strndup(path, (size_t)(slash - path));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int fs_path_join(const char *dir, const char *name, char **ret)
{
        char *s;

        if (asprintf(&s, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int openat2_retry(int dirfd, const char *path, const struct open_how *how)
{
        for (int i = 0; i < 32; i++) {
                long fd = syscall(SYS_openat2, dirfd, path, how, sizeof(*how));

                if (fd >= 0)
                        return (int)fd;
                /* EAGAIN: RESOLVE_IN_ROOT saw a concurrent rename and refused to guess. */
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
        }
        return -EAGAIN;
}

int fs_open(const char *path, int flags, mode_t mode, uint64_t extra_resolve)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve,
        };
        int root = fs_root_fd();

        if (root < 0)
                return root;
        return openat2_retry(root, path, &how);
}

int fs_open_child(int dirfd, const char *name, int flags, mode_t mode, uint64_t extra_resolve)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
                .mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | extra_resolve,
        };

        if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return -EINVAL;
        return openat2_retry(dirfd, name, &how);
}

int fs_open_parent(const char *path, const char **ret_base)
{
        _cleanup_free_ char *parent = NULL;
        int r;

        if (strcmp(path, "/") == 0) {
                *ret_base = ".";
                return fs_open("/", O_PATH | O_DIRECTORY, 0, 0);
        }
        r = fs_path_parent(path, &parent);
        if (r < 0)
                return r;
        r = fs_open(parent, O_PATH | O_DIRECTORY, 0, 0);
        if (r >= 0)
                *ret_base = fs_path_base(path);
        return r;
}

int fs_reopen(int opath_fd, int flags)
{
        char p[sizeof("/proc/self/fd/") + 12];
        int fd;

        snprintf(p, sizeof(p), "/proc/self/fd/%d", opath_fd);
        fd = open(p, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int fs_mkdir_p(const char *path, uid_t uid, gid_t gid, struct nb_error *err)
{
        _cleanup_free_ char *parent = NULL;
        _cleanup_close_ int pfd = -EBADF;
        const char *base;
        int fd, r;

        fd = fs_open(path, O_PATH | O_DIRECTORY, 0, 0);
        if (fd >= 0)
                return fd;
        if (fd == -ENOTDIR)
                return nb_error_set(err, fd, "path is a file: '%.256s' or one of its parents is not a directory",
                                    path);
        if (fd != -ENOENT || strcmp(path, "/") == 0)
                return nb_error_set_errno(err, fd, "cannot open directory '%.256s'", path);

        r = fs_path_parent(path, &parent);
        if (r < 0)
                return nb_error_oom(err);
        pfd = fs_mkdir_p(parent, uid, gid, err);
        if (pfd < 0)
                return pfd;
        base = fs_path_base(path);
        if (mkdirat(pfd, base, 0755) < 0) {
                if (errno != EEXIST)
                        return nb_error_set_errno(err, -errno, "cannot create directory '%.256s'", path);
                /* Lost a race with another creator (or a symlink is there): use what exists. */
                fd = fs_open(path, O_PATH | O_DIRECTORY, 0, 0);
                if (fd < 0)
                        return nb_error_set_errno(err, fd, "cannot create directory '%.256s'", path);
                return fd;
        }
        fd = fs_open_child(pfd, base, O_PATH | O_DIRECTORY, 0, 0);
        if (fd < 0)
                return nb_error_set_errno(err, fd, "cannot open new directory '%.256s'", path);
        if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0) {
                r = -errno;
                safe_close(fd);
                return nb_error_set_errno(err, r, "cannot change the owner of '%.256s'", path);
        }
        return fd;
}

int fs_path_eval(const char *path, char **ret)
{
        _cleanup_free_ char *todo = NULL;
        struct buf done = {0}; /* resolved prefix, symlink-free; "" is "/" */
        char link[PATH_MAX + 1];
        unsigned links = 0;
        const char *p;
        int r = 0;

        todo = strdup(path);
        if (!todo)
                return -ENOMEM;
        p = todo;
        while (*p) {
                _cleanup_close_ int fd = -EBADF;
                _cleanup_free_ char *next = NULL;
                const char *end;
                struct stat st;
                size_t len, mark;
                ssize_t k;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                end = strchrnul(p, '/');
                len = (size_t)(end - p);
                if (len == 1 && p[0] == '.') {
                        p = end;
                        continue;
                }
                if (len == 2 && p[0] == '.' && p[1] == '.') {
                        while (done.len > 0 && done.data[done.len - 1] != '/')
                                done.len--;
                        if (done.len > 0)
                                done.len--;
                        p = end;
                        continue;
                }
                mark = done.len;
                if (buf_append(&done, "/", 1) < 0 || buf_append(&done, p, len) < 0 || buf_append(&done, "", 1) < 0) {
                        r = -ENOMEM;
                        break;
                }
                done.len--; /* keep the NUL out of the length */
                if (done.len >= PATH_MAX) {
                        r = -ENAMETOOLONG;
                        break;
                }
                fd = fs_open((const char *)done.data, O_PATH | O_NOFOLLOW, 0, 0);
                if (fd < 0) {
                        r = fd;
                        break;
                }
                if (fstat(fd, &st) < 0) {
                        r = -errno;
                        break;
                }
                p = end;
                if (!S_ISLNK(st.st_mode)) {
                        if (*p && !S_ISDIR(st.st_mode)) {
                                /* More components follow a non-directory. */
                                const char *q = p;

                                while (*q == '/')
                                        q++;
                                if (*q) {
                                        r = -ENOTDIR;
                                        break;
                                }
                        }
                        continue;
                }
                if (++links > FS_EVAL_MAX_LINKS) {
                        r = -ELOOP;
                        break;
                }
                k = readlinkat(fd, "", link, sizeof(link));
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if ((size_t)k >= sizeof(link)) {
                        r = -ENAMETOOLONG;
                        break;
                }
                link[k] = '\0';
                done.len = link[0] == '/' ? 0 : mark;
                if (asprintf(&next, "%s/%s", link, p) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (strlen(next) >= 4 * PATH_MAX) {
                        r = -ENAMETOOLONG;
                        break;
                }
                free(todo);
                todo = TAKE_PTR(next);
                p = todo;
        }
        if (r >= 0) {
                if (done.len == 0)
                        r = buf_append(&done, "/", 1);
                if (r >= 0)
                        r = buf_append(&done, "", 1);
        }
        if (r < 0) {
                buf_done(&done);
                return r;
        }
        *ret = (char *)done.data;
        return 0;
}

bool fs_is_pseudo_fs(int fd)
{
        static const unsigned long pseudo[] = {
                PROC_SUPER_MAGIC,  SYSFS_MAGIC,          DEBUGFS_MAGIC,      TRACEFS_MAGIC,   SECURITYFS_MAGIC,
                CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, BPF_FS_MAGIC,       DEVPTS_SUPER_MAGIC, EFIVARFS_MAGIC,
                PSTOREFS_MAGIC,    SELINUX_MAGIC,        BINFMTFS_MAGIC,     NSFS_MAGIC,      0x62656570 /* configfs */,
                0x65735543 /* fusectl */,
        };
        struct statfs sf;

        if (fstatfs(fd, &sf) < 0)
                return true; /* cannot tell: fail closed */
        for (size_t i = 0; i < ELEMENTSOF(pseudo); i++)
                if ((unsigned long)sf.f_type == pseudo[i])
                        return true;
        return false;
}

int fs_request_user(struct agent *a, const char *authorization, const char *username, struct user *ret,
                    enum connect_code *ret_code, struct nb_error *err)
{
        int r;

        if (!username)
                return launch_resolve_user(a, authorization, ret, ret_code, err);
        r = user_lookup(a->passwd_path, a->group_path, username, ret, err);
        if (r < 0)
                *ret_code = r == -ENOENT ? CONNECT_UNAUTHENTICATED : CONNECT_INTERNAL;
        return r;
}

