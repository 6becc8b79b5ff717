/* Routing of one link exchange by method and path (protocol.md §3, §4):
 * /health, /init, /envs, the process.Process RPCs, and clear "not available"
 * answers for the filesystem service and /files. */
#pragma once

#include "conn.h"

/** Called once the request HEAD is parsed: may take over a client-streaming
 *  body (StreamInput) or answer right away. */
void router_head(struct conn *c);

/** Called at the request END (whole body in c->body) unless router_head took
 *  the exchange over or already answered. */
void router_request(struct conn *c);

/** Constant-time check of X-Access-Token; true when no token is configured. */
bool router_authorized(const struct conn *c);
