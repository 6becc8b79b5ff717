/* The sandbox's network namespace: its loopback, brought up by the child (no
 * allocation there; an ioctl is enough for one flag). The host's loopback is another
 * namespace's, out of reach. Its eth0, when it has one, is the parent's work after
 * the child started (net-sandbox.c).
 *
 * Parent side: the daemon reaches a TCP port inside a sandbox by creating its
 * socket in the sandbox's namespace. A socket keeps the namespace it was created
 * in, so a short-lived thread setns()es and creates it, then exits: no thread of
 * the daemon ever serves anything from a sandbox's namespace, and the dial itself
 * can only aim at that namespace's loopback. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime-internal.h"

#define NETNS_THREAD_STACK (64 * 1024)

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

struct socket_job {
        int netns_fd;
        int fd4, fd6; /* results: fds or -errno */
        int setns_error;
};

static void *socket_thread(void *arg)
{
        struct socket_job *job = arg;

        /* Only this thread changes namespace, and it ends right after. */
        if (setns(job->netns_fd, CLONE_NEWNET) < 0) {
                job->setns_error = -errno;
                return NULL;
        }
        job->fd4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (job->fd4 < 0)
                job->fd4 = -errno;
        job->fd6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (job->fd6 < 0)
                job->fd6 = -errno;
        return NULL;
}

/* Creates an IPv4 and an IPv6 TCP socket inside the namespace (either may fail alone:
 * IPv6 can be disabled). */
static int netns_sockets(int netns_fd, int *ret_fd4, int *ret_fd6, struct nb_error *err)
{
        struct socket_job job = {.netns_fd = netns_fd, .fd4 = -EBADF, .fd6 = -EBADF};
        pthread_attr_t attr;
        pthread_t thread;
        int r;

        r = -pthread_attr_init(&attr);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot start a thread to dial into the sandbox");
        (void)pthread_attr_setstacksize(&attr, NETNS_THREAD_STACK);
        r = -pthread_create(&thread, &attr, socket_thread, &job);
        pthread_attr_destroy(&attr);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot start a thread to dial into the sandbox");
        pthread_join(thread, NULL);
        if (job.setns_error < 0)
                return nb_error_set_errno(err, job.setns_error,
                                          "cannot enter the sandbox's network namespace");
        if (job.fd4 < 0 && job.fd6 < 0)
                return nb_error_set_errno(err, job.fd4,
                                          "cannot create a socket in the sandbox's network namespace");
        *ret_fd4 = job.fd4;
        *ret_fd6 = job.fd6;
        return 0;
}

/* Non-blocking connect bounded by timeout_ms; the socket is made blocking again on success. */
static int connect_timeout(int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms)
{
        socklen_t optlen = sizeof(int);
        int so_error = 0, r, flags;

        if (connect(fd, addr, len) < 0) {
                if (errno != EINPROGRESS)
                        return -errno;
                r = poll_one(fd, POLLOUT, timeout_ms);
                if (r < 0)
                        return r;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &optlen) < 0)
                        return -errno;
                if (so_error != 0)
                        return -so_error;
        }
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

int runtime_netns_connect_loopback(int netns_fd, uint16_t port, int timeout_ms, struct nb_error *err)
{
        _cleanup_close_ int fd4 = -EBADF, fd6 = -EBADF;
        struct sockaddr_in a4 = {
                .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        struct sockaddr_in6 a6 = {
                .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        int r, r6;

        if (netns_fd < 0 || port == 0)
                return nb_error_set(err, -EINVAL, "no network namespace or port to dial");
        r = netns_sockets(netns_fd, &fd4, &fd6, err);
        if (r < 0)
                return r;
        /* 127.0.0.1 reaches servers bound to 0.0.0.0, 127.0.0.1 and dual-stack [::]; ::1
         * only matters when nothing answers there (a server bound to [::1] alone). */
        r = fd4;
        if (fd4 >= 0) {
                r = connect_timeout(fd4, (const struct sockaddr *)&a4, sizeof(a4), timeout_ms);
                if (r >= 0)
                        return TAKE_FD(fd4);
        }
        if (fd6 >= 0 && (fd4 < 0 || r == -ECONNREFUSED)) {
                r6 = connect_timeout(fd6, (const struct sockaddr *)&a6, sizeof(a6), timeout_ms);
                if (r6 >= 0)
                        return TAKE_FD(fd6);
                /* Without an IPv6 loopback (disabled), IPv4's answer is the one that counts. */
                if (fd4 < 0 || r6 == -ECONNREFUSED || r6 == -ETIMEDOUT)
                        r = r6;
        }
        if (r == -ECONNREFUSED)
                return nb_error_set(err, r, "nothing listens on port %u in the sandbox", port);
        if (r == -ETIMEDOUT)
                return nb_error_set(err, r, "port %u in the sandbox did not accept within %d ms", port,
                                    timeout_ms);
        return nb_error_set_errno(err, r, "cannot connect to port %u in the sandbox", port);
}
