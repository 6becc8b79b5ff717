/* ListDir walk and recursive remove (see fs-tree.h). Both work on directory
 * fds and single names, opened with fs_open_child(): a symlink swapped in
 * mid-walk is never followed. */
#include "fs-tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-entry.h"
#include "fs-path.h"
#include "macro.h"

void fs_dirnames_done(struct fs_dirnames *ns)
{
        for (size_t i = 0; i < ns->n; i++)
                free(ns->v[i]);
        free(ns->v);
        *ns = (struct fs_dirnames){0};
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_dirnames_read(int dirfd, struct fs_dirnames *ret)
{
        struct fs_dirnames ns = {0};
        size_t cap = 0;
        struct dirent *de;
        DIR *d;
        int fd;

        /* A fresh fd: fdopendir() takes ownership and shares the offset. */
        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de)
                        break;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (ns.n == cap) {
                        char **v;

                        cap = cap ? cap * 2 : 32;
                        v = realloc(ns.v, cap * sizeof(*v));
                        if (!v) {
                                errno = ENOMEM;
                                break;
                        }
                        ns.v = v;
                }
                ns.v[ns.n] = strdup(de->d_name);
                if (!ns.v[ns.n]) {
                        errno = ENOMEM;
                        break;
                }
                ns.n++;
        }
        if (errno) {
                int r = -errno;

                closedir(d);
                fs_dirnames_done(&ns);
                return r;
        }
        closedir(d);
        if (ns.n > 1)
                qsort(ns.v, ns.n, sizeof(*ns.v), cmp_names);
        *ret = ns;
        return 0;
}

void fs_list_done(struct fs_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                fs_entry_free(l->v[i]);
        free(l->v);
        *l = (struct fs_list){0};
}

static int list_push(struct fs_list *l, Filesystem__EntryInfo *e)
{
        if (l->n >= FS_LIST_MAX_ENTRIES) {
                fs_entry_free(e);
                return -E2BIG;
        }
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 64;
                Filesystem__EntryInfo **v = realloc(l->v, cap * sizeof(*v));

                if (!v) {
                        fs_entry_free(e);
                        return -ENOMEM;
                }
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n++] = e;
        return 0;
}

static int list_dir(struct agent *a, int dirfd, const char *real, const char *display, unsigned level, unsigned depth,
                    struct fs_list *l, struct nb_error *err)
{
        struct fs_dirnames ns = {0};
        int r;

        r = fs_dirnames_read(dirfd, &ns);
        if (r < 0)
                return nb_error_set_errno(err, r, "error reading directory '%.256s'", real);
        for (size_t i = 0; i < ns.n; i++) {
                _cleanup_free_ char *child_real = NULL, *child_display = NULL;
                _cleanup_close_ int cfd = -EBADF;
                Filesystem__EntryInfo *e = NULL;
                bool descend;

                if (fs_path_join(real, ns.v[i], &child_real) < 0 || fs_path_join(display, ns.v[i], &child_display) < 0) {
                        r = nb_error_oom(err);
                        break;
                }
                r = fs_entry_at(a, dirfd, ns.v[i], child_real, child_display, &e);
                if (r == -ENOENT) {
                        r = 0;
                        continue; /* removed since we read the directory */
                }
                if (r < 0) {
                        nb_error_set_errno(err, r, "error reading '%.256s'", child_real);
                        break;
                }
                /* A real directory, not a symlink to one: WalkDir does not follow links. */
                descend = e->type == FILESYSTEM__FILE_TYPE__FILE_TYPE_DIRECTORY && !e->symlink_target &&
                          level < depth;
                r = list_push(l, e);
                if (r < 0) {
                        if (r == -E2BIG)
                                nb_error_set(err, r, "more than %d entries; list with a smaller depth",
                                             FS_LIST_MAX_ENTRIES);
                        else
                                nb_error_oom(err);
                        break;
                }
                if (!descend)
                        continue;
                if (level >= FS_TREE_MAX_LEVELS) {
                        r = nb_error_set(err, -E2BIG, "directory tree deeper than %d levels", FS_TREE_MAX_LEVELS);
                        break;
                }
                cfd = fs_open_child(dirfd, ns.v[i], O_RDONLY | O_DIRECTORY, 0, 0);
                if (cfd == -ENOENT || cfd == -ENOTDIR || cfd == -ELOOP)
                        continue; /* replaced since we looked at it */
                if (cfd < 0) {
                        r = nb_error_set_errno(err, cfd, "error reading directory '%.256s'", child_real);
                        break;
                }
                r = list_dir(a, cfd, child_real, child_display, level + 1, depth, l, err);
                if (r < 0)
                        break;
        }
        fs_dirnames_done(&ns);
        return r;
}

int fs_tree_list(struct agent *a, const char *dir_path, const char *display_path, unsigned depth, struct fs_list *ret,
                 struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        struct fs_list l = {0};
        int r;

        fd = fs_open(dir_path, O_RDONLY | O_DIRECTORY, 0, 0);
        if (fd < 0)
                return nb_error_set_errno(err, fd, "error reading directory '%.256s'", dir_path);
        r = list_dir(a, fd, dir_path, display_path, 1, depth, &l, err);
        if (r < 0) {
                fs_list_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}

/* Empties the directory open as dirfd. Mount points below are left alone and
 * reported as -EBUSY once everything else is gone. */
static int remove_contents(int dirfd, const char *path, unsigned level, struct nb_error *err)
{
        bool busy = false;

        if (level >= FS_TREE_MAX_LEVELS)
                return nb_error_set(err, -E2BIG, "directory tree deeper than %d levels at '%.256s'", FS_TREE_MAX_LEVELS,
                                    path);
        /* Passes until one removes nothing: unlinking while reading a directory
         * may make readdir() skip names. */
        for (int pass = 0; pass < 8; pass++) {
                struct fs_dirnames ns = {0};
                size_t removed = 0;
                int r;

                r = fs_dirnames_read(dirfd, &ns);
                if (r < 0)
                        return nb_error_set_errno(err, r, "cannot read directory '%.256s'", path);
                for (size_t i = 0; i < ns.n; i++) {
                        _cleanup_free_ char *child = NULL;
                        _cleanup_close_ int cfd = -EBADF;

                        if (unlinkat(dirfd, ns.v[i], 0) == 0 || errno == ENOENT) {
                                removed++;
                                continue;
                        }
                        if (errno != EISDIR && errno != EPERM) {
                                r = nb_error_set_errno(err, -errno, "cannot remove '%.200s/%.56s'", path, ns.v[i]);
                                break;
                        }
                        if (fs_path_join(path, ns.v[i], &child) < 0) {
                                r = nb_error_oom(err);
                                break;
                        }
                        cfd = fs_open_child(dirfd, ns.v[i], O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_XDEV);
                        if (cfd == -EXDEV) {
                                busy = true; /* a mount point: never descend */
                                continue;
                        }
                        if (cfd == -ENOENT) {
                                removed++;
                                continue;
                        }
                        if (cfd < 0) {
                                r = nb_error_set_errno(err, cfd, "cannot open directory '%.256s'", child);
                                break;
                        }
                        r = remove_contents(cfd, child, level + 1, err);
                        if (r == -EBUSY) {
                                busy = true;
                                r = 0;
                                continue;
                        }
                        if (r < 0)
                                break;
                        if (unlinkat(dirfd, ns.v[i], AT_REMOVEDIR) < 0 && errno != ENOENT) {
                                if (errno == EBUSY) {
                                        busy = true;
                                        continue;
                                }
                                r = nb_error_set_errno(err, -errno, "cannot remove directory '%.256s'", child);
                                break;
                        }
                        removed++;
                }
                fs_dirnames_done(&ns);
                if (r < 0)
                        return r;
                if (removed == 0)
                        break;
        }
        if (busy)
                return nb_error_set(err, -EBUSY, "'%.256s' holds a mount point; it was left in place", path);
        return 0;
}

int fs_tree_remove(const char *path, struct nb_error *err)
{
        _cleanup_close_ int parent = -EBADF, fd = -EBADF;
        const char *base;
        int r;

        if (strcmp(path, "/") == 0)
                return nb_error_set(err, -EINVAL, "refusing to remove the root directory");
        parent = fs_open_parent(path, &base);
        if (parent == -ENOENT)
                return 0;
        if (parent < 0)
                return nb_error_set_errno(err, parent, "error removing file or directory '%.256s'", path);
        if (unlinkat(parent, base, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return nb_error_set_errno(err, -errno, "error removing file or directory '%.256s'", path);
        fd = fs_open_child(parent, base, O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_XDEV);
        if (fd == -EXDEV)
                return nb_error_set(err, -EBUSY, "'%.256s' is a mount point", path);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return nb_error_set_errno(err, fd, "error removing file or directory '%.256s'", path);
        r = remove_contents(fd, path, 0, err);
        if (r < 0)
                return r;
        if (unlinkat(parent, base, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return nb_error_set_errno(err, -errno, "error removing directory '%.256s'", path);
        return 0;
}
