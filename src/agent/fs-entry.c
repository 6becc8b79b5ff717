/* EntryInfo construction (see fs-entry.h), after envd's
 * shared/pkg/filesystem/entry.go: lstat for name, size, permissions, owner,
 * mtime; the resolved target for type, mode and symlinkTarget. */
#include "fs-entry.h"
#include "../wire/jsonstr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fs-names.h"
#include "fs-path.h"
#include "fs-xattr.h"
#include "macro.h"

const char *fs_mode_string(mode_t mode, char *buf)
{
        /* Go's FileMode bits in String() order: "dalTLDpSugct?". */
        char *p = buf;

        if (S_ISDIR(mode))
                *p++ = 'd';
        if (S_ISLNK(mode))
                *p++ = 'L';
        if (S_ISBLK(mode) || S_ISCHR(mode))
                *p++ = 'D';
        if (S_ISFIFO(mode))
                *p++ = 'p';
        if (S_ISSOCK(mode))
                *p++ = 'S';
        if (mode & S_ISUID)
                *p++ = 'u';
        if (mode & S_ISGID)
                *p++ = 'g';
        if (S_ISCHR(mode))
                *p++ = 'c';
        if (mode & S_ISVTX)
                *p++ = 't';
        if (p == buf)
                *p++ = '-';
        for (int i = 8; i >= 0; i--)
                *p++ = (mode & (1u << i)) ? "xwr"[i % 3] : '-';
        *p = '\0';
        return buf;
}

static Filesystem__FileType file_type(mode_t mode)
{
        if (S_ISREG(mode))
                return FILESYSTEM__FILE_TYPE__FILE_TYPE_FILE;
        if (S_ISDIR(mode))
                return FILESYSTEM__FILE_TYPE__FILE_TYPE_DIRECTORY;
        if (S_ISLNK(mode))
                return FILESYSTEM__FILE_TYPE__FILE_TYPE_SYMLINK;
        return FILESYSTEM__FILE_TYPE__FILE_TYPE_UNSPECIFIED;
}

Filesystem__EntryInfo *fs_entry_free(Filesystem__EntryInfo *e)
{
        if (e)
                protobuf_c_message_free_unpacked(&e->base, NULL);
        return NULL;
}

static int set_metadata(Filesystem__EntryInfo *e, int fd)
{
        struct fs_meta_set m = {0};
        int r;

        r = fs_meta_read(fd, &m);
        if (r < 0 || m.n == 0) {
                fs_meta_done(&m);
                return r == -ENOMEM ? r : 0; /* best effort, as envd */
        }
        e->metadata = calloc(m.n, sizeof(*e->metadata));
        if (!e->metadata) {
                fs_meta_done(&m);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m.n; i++) {
                Filesystem__EntryInfo__MetadataEntry *kv = malloc(sizeof(*kv));

                if (!kv) {
                        fs_meta_done(&m);
                        return -ENOMEM;
                }
                filesystem__entry_info__metadata_entry__init(kv);
                kv->key = TAKE_PTR(m.v[i].key);
                kv->value = TAKE_PTR(m.v[i].value);
                e->metadata[e->n_metadata++] = kv;
        }
        fs_meta_done(&m);
        return 0;
}

/* Type, mode, symlinkTarget and metadata for a symlink: of its target, if any. */
static int fill_symlink(Filesystem__EntryInfo *e, const char *real_path)
{
        _cleanup_free_ char *target = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        r = fs_path_eval(real_path, &target);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* Go's followSymlink() answers the path itself when it cannot resolve. */
                e->symlink_target = utf8_sanitize(real_path);
                return e->symlink_target ? 0 : -ENOMEM;
        }
        e->symlink_target = utf8_sanitize(target);
        if (!e->symlink_target)
                return -ENOMEM;
        fd = fs_open(target, O_PATH | O_NOFOLLOW, 0, 0);
        if (fd < 0 || fstat(fd, &st) < 0)
                return 0; /* broken now: type stays unspecified */
        e->type = file_type(st.st_mode);
        e->has_type = e->type != 0;
        e->mode = st.st_mode & 0777;
        e->has_mode = e->mode != 0;
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
                return set_metadata(e, fd);
        return 0;
}

int fs_entry_at(struct agent *a, int dirfd, const char *name, const char *real_path, const char *display_path,
                Filesystem__EntryInfo **ret)
{
        Filesystem__EntryInfo *e = NULL;
        char perm[24], owner[FS_NAME_MAX], group[FS_NAME_MAX];
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        e = malloc(sizeof(*e));
        if (!e)
                return -ENOMEM;
        filesystem__entry_info__init(e);
        e->name = utf8_sanitize(strcmp(name, ".") == 0 ? fs_path_base(real_path) : name);
        e->path = utf8_sanitize(display_path);
        e->permissions = strdup(fs_mode_string(st.st_mode, perm));
        e->owner = strdup(fs_names_user(a, st.st_uid, owner));
        e->group = strdup(fs_names_group(a, st.st_gid, group));
        if (!e->name || !e->path || !e->permissions || !e->owner || !e->group) {
                fs_entry_free(e);
                return -ENOMEM;
        }
        e->size = (int64_t)st.st_size;
        e->has_size = e->size != 0;
        if (st.st_mtim.tv_sec != 0 || st.st_mtim.tv_nsec != 0) {
                e->modified_time = malloc(sizeof(*e->modified_time));
                if (!e->modified_time) {
                        fs_entry_free(e);
                        return -ENOMEM;
                }
                google__protobuf__timestamp__init(e->modified_time);
                e->modified_time->seconds = st.st_mtim.tv_sec;
                e->modified_time->has_seconds = true;
                e->modified_time->nanos = (int32_t)st.st_mtim.tv_nsec;
                e->modified_time->has_nanos = true;
        }

        if (S_ISLNK(st.st_mode))
                r = fill_symlink(e, real_path);
        else {
                e->type = file_type(st.st_mode);
                e->has_type = e->type != 0;
                e->mode = st.st_mode & 0777;
                e->has_mode = e->mode != 0;
                r = 0;
                /* Metadata only from files and directories: never open a device or fifo. */
                if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
                        fd = strcmp(name, ".") == 0 ? openat(dirfd, ".", O_PATH | O_CLOEXEC)
                                                    : fs_open_child(dirfd, name, O_PATH, 0, 0);
                        if (fd >= 0)
                                r = set_metadata(e, fd);
                }
        }
        if (r < 0) {
                fs_entry_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

int fs_entry_path(struct agent *a, const char *path, Filesystem__EntryInfo **ret)
{
        _cleanup_close_ int dirfd = -EBADF;
        const char *base;

        dirfd = fs_open_parent(path, &base);
        if (dirfd < 0)
                return dirfd;
        return fs_entry_at(a, dirfd, base, path, path, ret);
}
