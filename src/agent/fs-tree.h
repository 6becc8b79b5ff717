/* Whole-tree operations of the filesystem service: the ListDir walk (depth
 * limited, sorted like Go's filepath.WalkDir, never following symlinks below
 * the root) and Remove's `rm -rf` (never following symlinks, never crossing a
 * mount point: a bind mount of host files must not be emptied from inside). */
#pragma once

#include <stddef.h>

#include "agent.h"
#include "error.h"
#include "filesystem.pb-c.h"

#define FS_LIST_MAX_ENTRIES 100000 /* one ListDir answer; beyond, resource_exhausted */
#define FS_TREE_MAX_LEVELS 1024    /* nesting walked or removed */

/** The names of a directory (not "." and ".."), sorted bytewise as Go's os.ReadDir. */
struct fs_dirnames {
        char **v;
        size_t n;
};

int fs_dirnames_read(int dirfd, struct fs_dirnames *ret);
void fs_dirnames_done(struct fs_dirnames *ns);

struct fs_list {
        Filesystem__EntryInfo **v;
        size_t n, cap;
};

void fs_list_done(struct fs_list *l);

/** Lists dir_path (clean, in-root, a directory after symlink resolution) to
 *  `depth` levels; entry paths are display_path + the relative path. Entries
 *  that vanish meanwhile are skipped. -E2BIG past FS_LIST_MAX_ENTRIES, other
 *  -errno with a message. */
int fs_tree_list(struct agent *a, const char *dir_path, const char *display_path, unsigned depth, struct fs_list *ret,
                 struct nb_error *err);

/** Removes path and everything below it. A missing path is success. -EBUSY when
 *  a mount point is in the way; other -errno with a message. */
int fs_tree_remove(const char *path, struct nb_error *err);
