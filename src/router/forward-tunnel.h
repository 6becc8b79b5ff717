/* After a 101 Switching Protocols (WebSocket and any other Upgrade), the client's
 * socket and the upstream's are joined: bytes are copied both ways until either
 * side closes. Runs on the connection's own MHD thread (inside MHD's upgrade
 * handler, which thread-per-connection mode calls on that thread).
 *
 * MHD does not shut down upgraded sockets when it stops, and waits for their
 * threads: the tunnels are registered so server_stop() can end them first. */
#pragma once

#include <stddef.h>

struct forward_tunnels;

int forward_tunnels_new(struct forward_tunnels **ret);
/** Ends every running tunnel (shutdown of both sockets), refuses new ones, and waits up
 *  to a few seconds for them to return. Call before MHD_stop_daemon(). Accepts NULL. */
void forward_tunnels_stop(struct forward_tunnels *t);
struct forward_tunnels *forward_tunnels_free(struct forward_tunnels *t);

/** Copies between client_fd and upstream_fd until one side closes (the other then gets
 *  its remaining bytes and a shutdown) or fails. to_upstream / to_client are bytes read
 *  ahead of the switch: what the client sent after its request (MHD's extra_in) and what
 *  the upstream sent after its 101 head. Closes neither fd. */
void forward_tunnel_run(struct forward_tunnels *t, int client_fd, int upstream_fd, const void *to_upstream,
                        size_t n_up, const void *to_client, size_t n_client);
