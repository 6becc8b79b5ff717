/* Paths from clients, inside the sandbox root: envd's expansion rules
 * (protocol.md §3.3), lexical cleaning, and the only ways the filesystem
 * service opens anything: openat2(root, path, RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS), so `..` and absolute symlinks stay inside the root
 * (STYLE.md §5). The root is "/" (the agent is pid 1 of the sandbox) unless
 * NESTBOX_AGENT_ROOT names another directory (tests only). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "../wire/connect.h"
#include "agent.h"
#include "error.h"
#include "users.h"

#define FS_ROOT_ENV "NESTBOX_AGENT_ROOT"

/** The sandbox root as an O_PATH directory fd, opened on first use and kept.
 *  Negative errno if it cannot be opened. */
int fs_root_fd(void);

/** envd's ExpandAndResolve: "" -> default workdir (or home); "~", "~/x" -> home;
 *  "~name" -> -EINVAL; relative -> joined to home. The result is absolute and
 *  lexically clean (no ".", "..", "//", trailing "/"), malloc'd in *ret.
 *  -EINVAL / -ENAMETOOLONG with a message. */
int fs_path_resolve(const char *path, const char *home, const char *default_workdir, char **ret,
                    struct nb_error *err);

/** Lexically cleans an absolute or relative path into an absolute one (relative
 *  ones start at "/"), as Go's filepath.Clean("/" + p). malloc'd. */
int fs_path_clean(const char *path, char **ret);

/** The last component of a clean absolute path ("/" for "/"). Points into path. */
const char *fs_path_base(const char *path);

/** Parent of a clean absolute path, malloc'd ("/" for "/x" and "/"). */
int fs_path_parent(const char *path, char **ret);

/** Joins a clean absolute dir and a relative name ("/" + "a" = "/a"). malloc'd. */
int fs_path_join(const char *dir, const char *name, char **ret);

/** openat2(root, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
 *  extra_resolve). mode is used with O_CREAT only. Retries the kernel's EAGAIN
 *  (a rename raced a ".."). Returns the fd or -errno. */
int fs_open(const char *path, int flags, mode_t mode, uint64_t extra_resolve);

/** Opens one component below dirfd (no "/" allowed), never following a symlink
 *  or crossing out of dirfd; extra_resolve may add RESOLVE_NO_XDEV. Returns the
 *  fd or -errno. */
int fs_open_child(int dirfd, const char *name, int flags, mode_t mode, uint64_t extra_resolve);

/** Opens the parent directory of a clean absolute path (O_PATH, symlinks in the
 *  parent chain followed inside the root). *ret_base points into path. For "/"
 *  the root itself is returned and *ret_base is ".". */
int fs_open_parent(const char *path, const char **ret_base);

/** Re-opens an O_PATH fd with new flags (O_RDONLY...) through /proc/self/fd, so
 *  the same inode is reached without a second path walk. -ENOENT without /proc. */
int fs_reopen(int opath_fd, int flags);

/** envd's EnsureDirs: creates every missing directory of path (0755 & ~umask,
 *  chowned to uid:gid), following existing symlinks inside the root. Returns an
 *  O_PATH fd of the directory. -ENOTDIR with a message when a component is not
 *  a directory. */
int fs_mkdir_p(const char *path, uid_t uid, gid_t gid, struct nb_error *err);

/** Resolves every symlink of a clean absolute path inside the root, as Go's
 *  filepath.EvalSymlinks does (255 links at most: -ELOOP). malloc'd in *ret.
 *  -ENOENT when a component is missing, -ENOTDIR when one is not a directory. */
int fs_path_eval(const char *path, char **ret);

/** True for pseudo filesystems whose files are not data (procfs, sysfs,
 *  debugfs, ...): /files refuses them. */
bool fs_is_pseudo_fs(int fd);

/** The user of a request: the Authorization header (RPCs) or `username`
 *  (/files) if given, else the sandbox default. On failure *ret_code says
 *  unauthenticated (unknown user) or internal. */
int fs_request_user(struct agent *a, const char *authorization, const char *username, struct user *ret,
                    enum connect_code *ret_code, struct nb_error *err);
