/* The sandbox's network namespace: only a loopback, brought up here (child side, no
 * allocation). With no other interface the sandbox cannot reach the host's loopback,
 * other sandboxes or the network; the daemon reaches sandbox ports through the agent.
 * An ioctl is enough for one flag: no netlink library in the child. */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime-internal.h"

int netns_child_loopback_up(void)
{
        struct ifreq ifr = {0};
        int fd, r = 0;

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        memcpy(ifr.ifr_name, "lo", 3);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        else if (!(ifr.ifr_flags & IFF_UP)) {
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        r = -errno;
        }
        close(fd);
        if (r < 0)
                errno = -r;
        return r;
}
