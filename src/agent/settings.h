/* Sandbox-wide settings pushed by the daemon through POST /init (protocol.md
 * §4.5): default env vars, access token, default user and workdir; and
 * GET /envs (§4.4), which reads them back. */
#pragma once

#include "agent.h"
#include "conn.h"
#include "error.h"

/** POST /init {"envVars":{..},"accessToken":s?,"defaultUser":s?,"defaultWorkdir":s?} -> 204.
 *  envVars are merged into the existing set (a resume re-sends them). */
void settings_handle_init(struct conn *c);

/** GET /envs -> 200 {"KEY":"VALUE",...}. */
void settings_handle_envs(struct conn *c);

/** Applies an /init body; -EINVAL with a message on malformed input. Exposed for tests. */
int settings_apply_init(struct agent *a, const char *json, size_t n, struct nb_error *err);

/** Frees everything /init set. */
void settings_done(struct agent *a);
