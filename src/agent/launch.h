/* From a StartRequest to a spawned child: user (Authorization header or the
 * default), cwd resolution, environment and argv (protocol.md §3.3, §3.4). */
#pragma once

#include "../wire/connect.h"
#include "agent.h"
#include "process.pb-c.h"
#include "spawn.h"
#include "users.h"

/** Picks the request's user: the Basic auth name if given, else the default
 *  (/init defaultUser, else "user" if it exists, else "root"). Failure codes:
 *  unauthenticated ("invalid username: '<x>'"), internal. */
int launch_resolve_user(struct agent *a, const char *authorization, struct user *ret, enum connect_code *ret_code,
                        struct nb_error *err);

/** envd's path rule: "" -> default workdir or home; "~", "~/x" -> home; relative ->
 *  joined to home; absolute as is. Returns a malloc'd path. */
int launch_resolve_path(const char *path, const char *home, const char *default_workdir, char **ret);

/** Spawns req for the connection's user. On failure *ret_code says which Connect
 *  code the error maps to and err has the message. */
int launch_start(struct agent *a, const char *authorization, const Process__StartRequest *req,
                 struct spawn_result *ret, enum connect_code *ret_code, struct nb_error *err);
