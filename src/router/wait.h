/* Blocking waits of a relaying connection thread. */
#pragma once

/** Waits until fd is readable (or closed), giving up with -ECONNRESET when the
 *  client's socket hangs up first (client_fd < 0: not watched). Relayed streams can
 *  be silent for minutes; a client that left must not keep the thread. */
int wait_readable_or_hangup(int fd, int client_fd);
