/* Users without NSS: the agent is pid 1 of a foreign root filesystem and a
 * static binary, so it reads the sandbox's /etc/passwd and /etc/group itself
 * (STYLE.md §4: no NSS lookups in pid 1). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

struct user {
        char *name;
        uid_t uid;
        gid_t gid;
        char *home;
        char *shell;
        gid_t *groups; /* supplementary groups, primary gid first */
        size_t n_groups;
};

/** Resolves name from passwd_path and group_path. -ENOENT (with a message) when
 *  there is no such user; other -errno when the files cannot be read. On success
 *  *ret owns strings and arrays: release them with user_done(). */
int user_lookup(const char *passwd_path, const char *group_path, const char *name, struct user *ret,
                struct nb_error *err);

/** True when passwd_path has an entry for name. */
bool user_exists(const char *passwd_path, const char *name);

void user_done(struct user *u);

/** Parses "Basic base64(<name>:<password>)" and returns the user name (malloc'd)
 *  in *ret. -EINVAL when the header is malformed. */
int user_from_basic_auth(const char *header, char **ret);
