/* EntryInfo exactly as envd fills it (protocol.md §3.5, trap 18): type and
 * mode of the target for symlinks, symlinkTarget fully resolved, Go's
 * FileMode.String() of the lstat mode ("Lrwxrwxrwx"), owner and group names,
 * mtime with nanoseconds, lstat size, user.e2b.* metadata. Zero scalars are
 * left unset, as proto3 implicit presence omits them. */
#pragma once

#include <sys/stat.h>

#include "agent.h"
#include "filesystem.pb-c.h"

/** Go's os.FileMode(...).String() for a Linux st_mode; buf holds >= 24 bytes. */
const char *fs_mode_string(mode_t mode, char *buf);

/** The entry `name` of the directory dirfd (not followed if a symlink).
 *  real_path is its clean in-root path (symlinks resolve from it), display_path
 *  what .path shows. -ENOENT when it vanished, -ENOMEM. Free with fs_entry_free(). */
int fs_entry_at(struct agent *a, int dirfd, const char *name, const char *real_path, const char *display_path,
                Filesystem__EntryInfo **ret);

/** The entry at a clean absolute in-root path (lstat semantics). */
int fs_entry_path(struct agent *a, const char *path, Filesystem__EntryInfo **ret);

/** Frees an entry built here (or any unpacked EntryInfo). NULL is fine. */
Filesystem__EntryInfo *fs_entry_free(Filesystem__EntryInfo *e);
