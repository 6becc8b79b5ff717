/* uid/gid -> name for EntryInfo.owner/group, from the sandbox's own
 * /etc/passwd and /etc/group (no NSS in pid 1, STYLE.md §4). The tables are
 * cached and re-read when the files change, so a ListDir of thousands of
 * entries reads them once. */
#pragma once

#include <sys/types.h>

#include "agent.h"

#define FS_NAME_MAX 64

/** The user name of uid, or its decimal form when unknown (as envd answers).
 *  Writes into buf (FS_NAME_MAX bytes) and returns it. */
const char *fs_names_user(struct agent *a, uid_t uid, char buf[static FS_NAME_MAX]);

/** The group name of gid, or its decimal form when unknown. */
const char *fs_names_group(struct agent *a, gid_t gid, char buf[static FS_NAME_MAX]);
