/* Blocking, one-shot link exchanges for the daemon's own calls to an agent
 * (for example /init right after start). Client traffic is relayed by
 * router/proxy.c instead, which streams. */
#pragma once

#include "../base/buf.h"

/** Sends one request over fd (a fresh link connection) and reads the whole response.
 *  body may be NULL. On success *ret_status holds the HTTP status and ret_body the body. */
int link_call(int fd, const char *method, const char *path, const char *content_type, const void *body, size_t n,
              int *ret_status, struct buf *ret_body);
