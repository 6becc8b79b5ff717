#include "wait.h"

#include <errno.h>
#include <poll.h>

int wait_readable_or_hangup(int fd, int client_fd)
{
        for (;;) {
                struct pollfd fds[2] = {
                        {.fd = fd, .events = POLLIN},
                        {.fd = client_fd, .events = POLLRDHUP},
                };
                int k = poll(fds, client_fd >= 0 ? 2 : 1, -1);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (fds[0].revents)
                        return 0;
                if (fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
                        return -ECONNRESET;
        }
}
