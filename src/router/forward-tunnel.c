/* Byte tunnels for upgraded connections (see forward-tunnel.h). One poll loop per
 * tunnel on its connection's thread, a 64 KiB buffer each way: a side that stops
 * reading stops the other from being read (the kernel buffers are the back-pressure).
 * When one side closes, the other gets a write shutdown and may finish within
 * TUNNEL_LINGER_MS (a WebSocket close handshake), then the tunnel ends. */
#include "forward-tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../base/log.h"

#define TUNNEL_BUF (64 * 1024)
#define TUNNEL_LINGER_MS 10000
#define TUNNEL_STOP_WAIT_MS 5000

struct tunnel {
        struct tunnel *next;
        int client_fd, upstream_fd;
};

struct forward_tunnels {
        pthread_mutex_t lock;
        pthread_cond_t idle;
        bool stopping;
        struct tunnel *running;
};

int forward_tunnels_new(struct forward_tunnels **ret)
{
        struct forward_tunnels *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        pthread_mutex_init(&t->lock, NULL);
        pthread_cond_init(&t->idle, NULL);
        *ret = t;
        return 0;
}

void forward_tunnels_stop(struct forward_tunnels *t)
{
        struct timespec deadline;

        if (!t)
                return;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += TUNNEL_STOP_WAIT_MS / 1000;
        pthread_mutex_lock(&t->lock);
        t->stopping = true;
        /* The fds stay open until their tunnel unregisters (under this lock), so these
         * shutdowns cannot hit a reused fd. */
        for (struct tunnel *x = t->running; x; x = x->next) {
                (void)shutdown(x->client_fd, SHUT_RDWR);
                (void)shutdown(x->upstream_fd, SHUT_RDWR);
        }
        while (t->running)
                if (pthread_cond_timedwait(&t->idle, &t->lock, &deadline) == ETIMEDOUT)
                        break;
        if (t->running)
                log_warning("port forwarding: upgraded connections still open at shutdown, ignoring");
        pthread_mutex_unlock(&t->lock);
}

struct forward_tunnels *forward_tunnels_free(struct forward_tunnels *t)
{
        if (!t)
                return NULL;
        pthread_cond_destroy(&t->idle);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
}

static bool tunnel_register(struct forward_tunnels *t, struct tunnel *x)
{
        bool ok;

        pthread_mutex_lock(&t->lock);
        ok = !t->stopping;
        if (ok) {
                x->next = t->running;
                t->running = x;
        }
        pthread_mutex_unlock(&t->lock);
        return ok;
}

static void tunnel_unregister(struct forward_tunnels *t, struct tunnel *x)
{
        pthread_mutex_lock(&t->lock);
        for (struct tunnel **pp = &t->running; *pp; pp = &(*pp)->next)
                if (*pp == x) {
                        *pp = x->next;
                        break;
                }
        if (!t->running)
                pthread_cond_broadcast(&t->idle);
        pthread_mutex_unlock(&t->lock);
}

/* One direction of the tunnel. */
struct flow {
        int from, to;
        char *buf;
        size_t len, off;
        bool eof;     /* `from` closed its side */
        bool shut;    /* and `to` got its write shutdown */
        size_t moved; /* bytes read plus bytes written */
};

static int set_nonblocking(int fd)
{
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

/* Fills the flow's buffer with what came before the switch; larger leftovers than the
 * buffer cannot happen (MHD's read buffer and our 64 KiB reads are smaller). */
static void flow_preload(struct flow *f, const void *data, size_t n)
{
        if (n == 0)
                return;
        if (n > TUNNEL_BUF)
                n = TUNNEL_BUF;
        memcpy(f->buf, data, n);
        f->len = n;
}

/* Moves what can move without blocking. Returns < 0 when the tunnel must end. */
static int flow_step(struct flow *f, short from_events, short to_events)
{
        if (f->len > f->off && (to_events & (POLLOUT | POLLERR | POLLHUP))) {
                ssize_t k = send(f->to, f->buf + f->off, f->len - f->off, MSG_NOSIGNAL);

                if (k < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (k > 0) {
                        f->off += (size_t)k;
                        f->moved += (size_t)k;
                }
                if (f->off == f->len)
                        f->off = f->len = 0;
        }
        if (f->len == 0 && !f->eof && (from_events & (POLLIN | POLLERR | POLLHUP))) {
                ssize_t k = recv(f->from, f->buf, TUNNEL_BUF, 0);

                if (k < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (k == 0)
                        f->eof = true;
                if (k > 0) {
                        f->len = (size_t)k;
                        f->moved += (size_t)k;
                }
        }
        if (f->eof && f->len == 0 && !f->shut) {
                (void)shutdown(f->to, SHUT_WR);
                f->shut = true;
        }
        return 0;
}

/* Grows with every byte moved and every state change, so a wake-up that moved nothing shows. */
static size_t progress(const struct flow *f)
{
        return f->moved + f->eof + f->shut;
}

static void flow_events(const struct flow *f, short *from_events, short *to_events)
{
        if (f->len > 0)
                *to_events |= POLLOUT;
        else if (!f->eof)
                *from_events |= POLLIN;
}

void forward_tunnel_run(struct forward_tunnels *t, int client_fd, int upstream_fd, const void *to_upstream,
                        size_t n_up, const void *to_client, size_t n_client)
{
        struct tunnel self = {.client_fd = client_fd, .upstream_fd = upstream_fd};
        struct flow up = {.from = client_fd, .to = upstream_fd};
        struct flow down = {.from = upstream_fd, .to = client_fd};
        int r = 0;

        if (!tunnel_register(t, &self))
                return;
        up.buf = malloc(TUNNEL_BUF);
        down.buf = malloc(TUNNEL_BUF);
        if (!up.buf || !down.buf || set_nonblocking(client_fd) < 0 || set_nonblocking(upstream_fd) < 0)
                goto out;
        flow_preload(&up, to_upstream, n_up);
        flow_preload(&down, to_client, n_client);

        while (!(up.shut && down.shut)) {
                struct pollfd fds[2] = {{.fd = client_fd}, {.fd = upstream_fd}};
                size_t before;
                int k;

                flow_events(&up, &fds[0].events, &fds[1].events);
                flow_events(&down, &fds[1].events, &fds[0].events);
                /* Once a side has closed, the other gets a while to finish, not forever. */
                k = poll(fds, 2, up.eof || down.eof ? TUNNEL_LINGER_MS : -1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                before = progress(&up) + progress(&down);
                r = flow_step(&up, fds[0].revents, fds[1].revents);
                if (r >= 0)
                        r = flow_step(&down, fds[1].revents, fds[0].revents);
                if (r < 0)
                        break;
                /* An error or hang-up on a socket no flow can use now would wake poll forever. */
                if (progress(&up) + progress(&down) == before)
                        break;
        }
        if (r < 0 && r != -ECONNRESET && r != -EPIPE)
                log_debug("port forwarding: tunnel ended: %s", strerror(-r));
out:
        free(up.buf);
        free(down.buf);
        tunnel_unregister(t, &self);
}
