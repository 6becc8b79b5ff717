/* The filesystem.Filesystem Connect service (protocol.md §3.5): Stat,
 * MakeDir, Move, ListDir, Remove here; WatchDir and the polling watchers in
 * watch-rpc.c. Every call runs as envd's: resolve the user (Authorization
 * header or the default), expand the path, act inside the sandbox root. */
#pragma once

#include "conn.h"
#include "rpc.h"
#include "users.h"

/** Routes /filesystem.Filesystem/<method>. */
void fs_rpc_dispatch(struct conn *c, const char *method);

/** The Connect code of a filesystem errno: -ENOENT/-ENOTDIR not_found,
 *  -EINVAL/-ENAMETOOLONG/-ELOOP invalid_argument, -EACCES/-EPERM
 *  permission_denied, -ENOSPC/-EDQUOT/-E2BIG resource_exhausted, -EBUSY
 *  failed_precondition, else internal. */
enum connect_code fs_rpc_code(int negative_errno);

/** Resolves the request's user and expands path for it (clean, absolute, in the
 *  root). On failure it answers the call (unauthenticated, invalid_argument,
 *  internal) and returns < 0. */
int fs_rpc_user_path(struct rpc *r, const char *path, struct user *ret_user, char **ret_path);
