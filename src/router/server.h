/* The HTTP front: one listener for the control API and all sandbox traffic.
 * libmicrohttpd in thread-per-connection mode, so a relayed stream may block
 * its own thread without stalling anyone else. */
#pragma once

#include "../base/error.h"

struct daemon;
struct server;

/** Listens on d->listen ("host:port") and serves until server_stop(). */
int server_start(struct daemon *d, struct server **ret, struct nb_error *err);
struct server *server_stop(struct server *s);
