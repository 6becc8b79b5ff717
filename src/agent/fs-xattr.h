/* User metadata of files: `user.e2b.<key>` xattrs (protocol.md §4.3, envd's
 * shared/pkg/filesystem/xattr.go). Read for EntryInfo.metadata, replaced as a
 * whole by uploads carrying X-Metadata-* headers. */
#pragma once

#include <stddef.h>

#include "error.h"

#define FS_META_PREFIX "user.e2b."
#define FS_META_KEY_MAX (255 - (sizeof(FS_META_PREFIX) - 1)) /* the VFS caps xattr names at 255 */
#define FS_META_TOTAL_MAX 4096                               /* one ext4 block for all of them */

struct fs_meta {
        char *key; /* without the prefix */
        char *value;
};

struct fs_meta_set {
        struct fs_meta *v;
        size_t n;
};

void fs_meta_done(struct fs_meta_set *m);

/** Adds or replaces key (copies both strings). -ENOMEM. */
int fs_meta_set_add(struct fs_meta_set *m, const char *key, const char *value);

/** envd's ValidateMetadata: non-empty keys of at most FS_META_KEY_MAX bytes,
 *  printable ASCII keys and values, at most FS_META_TOTAL_MAX bytes in all.
 *  -EINVAL with a message. */
int fs_meta_validate(const struct fs_meta_set *m, struct nb_error *err);

/** Reads the metadata of the inode behind fd; an O_PATH fd is read through
 *  /proc/self/fd. Entries that are not UTF-8 are skipped (envd does too); a
 *  filesystem without xattrs gives an empty set. */
int fs_meta_read(int fd, struct fs_meta_set *ret);

/** Replaces the metadata of the file open as fd with m: stale user.e2b.* names
 *  are removed, the others set. -ENOTSUP when the filesystem has no xattrs. */
int fs_meta_write(int fd, const struct fs_meta_set *m, struct nb_error *err);
