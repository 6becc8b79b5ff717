/* Relaying HTTP/1.1 to any other TCP port inside a sandbox (not 49983/49999, which
 * go to the agent: proxy.h). The daemon dials the port on the loopback of the
 * sandbox's own network namespace, writes the request head itself, streams the
 * body as MHD hands it over, and streams the answer back as MHD asks for it; a 101
 * turns the connection into a byte tunnel (forward-tunnel.h). One upstream
 * connection per request; the client's connection stays keep-alive.
 * Runs on the connection's own MHD thread, so it may block. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>

#include "../base/error.h"

struct forward;
struct forward_tunnels;
struct live_sandbox;

/** Connects to `port` in the sandbox and sends the request head. Takes over the
 *  reference to s. target is the request-target exactly as received. Errors:
 *  -ECONNREFUSED nothing listens there, -ETIMEDOUT, -EINVAL a request we will not pass
 *  on, -EACCES the sandbox's ports are not public; answer them with
 *  forward_reply_failure(). */
int forward_begin(struct live_sandbox *s, struct MHD_Connection *c, unsigned port, const char *method,
                  const char *version, const char *target, struct forward_tunnels *tunnels,
                  struct forward **ret, struct nb_error *err);
/** Passes on a piece of the request body. An upstream that stopped reading (it may have
 *  answered early) makes the rest be dropped; its answer still counts. */
void forward_body(struct forward *f, const char *data, size_t n);
/** Ends the request, reads the upstream's head and queues the answer on c. On return
 *  *fp is NULL when MHD owns the forward (a streamed body frees it when done); for an
 *  upgrade it stays with the caller, who frees it when the request completes (after the
 *  tunnel ended). */
enum MHD_Result forward_finish(struct forward **fp, struct MHD_Connection *c);
/** Accepts NULL. */
void forward_free(struct forward *f);

/** The answer to a failed forward_begin(): E2B's closed-port 502 (JSON, or an HTML page
 *  for browsers) for -ECONNREFUSED, 400 for -EINVAL, 403 for -EACCES, 502 with err's
 *  text otherwise. */
enum MHD_Result forward_reply_failure(struct MHD_Connection *c, const char *sandbox_id, unsigned port, int r,
                                      const struct nb_error *err);
