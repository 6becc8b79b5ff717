/* The code interpreter's HTTP surface (protocol.md §5.1) on sandbox port 49999:
 * /execute, /contexts, /health. Requests reach it over the same link as envd's;
 * the router hands over every exchange whose HEAD names port 49999. No
 * X-Access-Token check on this port (§8 item 11). */
#pragma once

#include <stdbool.h>

#include "conn.h"

#define INTERP_PORT 49999

/** True when the exchange was addressed to the code interpreter's port. */
bool interp_is_port(const struct conn *c);

/** Called at the request HEAD for port-49999 exchanges: nothing streams in
 *  (bodies are small JSON), so it only keeps envd's head handlers away. */
void interp_head(struct conn *c);

/** Called at the request END with the whole body in c->body: answers, or takes
 *  the exchange over (an /execute stream, a context waiting for python). */
void interp_handle(struct conn *c);

/** Kills every context's python process (agent shutdown). */
void interp_shutdown(void);
