/* The control API (E2B's OpenAPI, protocol.md §2): authentication and dispatch
 * to one handler per endpoint. Called once per request with the whole body. */
#pragma once

#include <microhttpd.h>
#include <stddef.h>

struct daemon;

enum MHD_Result api_handle(struct daemon *d, struct MHD_Connection *c, const char *method, const char *url,
                           const char *body, size_t body_len);
