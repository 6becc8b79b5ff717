/* Relaying one client exchange to a sandbox's agent over the link (wire/link.h).
 * Runs on the connection's own MHD thread, so it may block: uploads are written
 * to the agent as they arrive (the socket buffer is the back-pressure) and the
 * response is streamed back frame by frame (Connect streams flush per event). */
#pragma once

#include <microhttpd.h>

#include "../base/error.h"

struct live_sandbox;
struct proxy;

/** Opens the agent connection and sends the request head, which names the sandbox port the
 *  client addressed (49983 envd, 49999 code interpreter). Takes over the reference to s. */
int proxy_begin(struct live_sandbox *s, struct MHD_Connection *c, unsigned port, const char *method,
                const char *url, struct proxy **ret, struct nb_error *err);
/** Relays a piece of the request body. */
int proxy_body(struct proxy *p, const char *data, size_t n);
/** Ends the request and queues the streamed response on c. The proxy is freed by MHD once the
 *  response is done (or here, on failure). */
enum MHD_Result proxy_finish(struct proxy *p, struct MHD_Connection *c);
/** Frees a proxy whose response was never queued (client went away mid-upload). Accepts NULL. */
void proxy_abort(struct proxy *p);
