/* Link connections: accept, frame parsing, buffered non-blocking responses.
 * One exchange per connection (src/wire/link.h). The request body is kept
 * whole until END unless a handler asked for it piecewise (StreamInput). */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "../wire/jsonstr.h"
#include "../wire/link.h"
#include "log.h"
#include "router.h"

#define CONN_READ_CHUNK (256u << 10)
#define CONN_MAX 1024 /* beyond this, new connections are refused: bounded memory */

static void conn_flush(struct conn *c);

static void conn_update_events(struct conn *c)
{
        uint32_t ev = EPOLLIN | EPOLLRDHUP;

        if (c->dead)
                return;
        if (buf_avail(&c->out) > 0)
                ev |= EPOLLOUT;
        if (loop_io_set_events(&c->io, ev) < 0)
                conn_kill(c);
}

void conn_set_handler(struct conn *c, const struct conn_handler *h, void *userdata)
{
        c->handler = h;
        c->userdata = userdata;
}

void conn_clear_handler(struct conn *c)
{
        c->handler = NULL;
        c->userdata = NULL;
}

static void conn_abort_handler(struct conn *c)
{
        const struct conn_handler *h = c->handler;
        void *userdata = c->userdata;

        conn_clear_handler(c);
        if (h && h->aborted)
                h->aborted(c, userdata);
}

void conn_kill(struct conn *c)
{
        /* The handler is aborted later, in conn_free(): a stream may be killed from
         * inside a fan-out loop over its process's streams. Writes to a dead
         * connection are no-ops until then. */
        if (c->dead)
                return;
        c->dead = true;
        loop_io_del(&c->io);
}

static struct conn *conn_free(struct conn *c)
{
        struct agent *a = c->agent;

        conn_abort_handler(c);
        loop_io_del(&c->io);
        safe_close(c->fd);
        if (c->prev)
                c->prev->next = c->next;
        else
                a->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        a->n_conns--;
        buf_done(&c->in);
        buf_done(&c->out);
        buf_done(&c->body);
        json_decref(c->head);
        free(c);
        return NULL;
}

void conn_reap_dead(struct agent *a)
{
        struct conn *c = a->conns, *next;

        for (; c; c = next) {
                next = c->next;
                if (c->dead)
                        conn_free(c);
        }
}

void conn_free_all(struct agent *a)
{
        while (a->conns)
                conn_free(a->conns);
}

const char *conn_header(const struct conn *c, const char *name)
{
        json_t *headers = json_object_get(c->head, "headers");

        return json_string_value(json_object_get(headers, name));
}

size_t conn_pending(const struct conn *c)
{
        return buf_avail(&c->out);
}

/* Once the response is out and the request is complete, the exchange is over. If
 * the daemon is still sending (we answered early), half-close and drain it first:
 * closing a unix socket with unread data would reset the daemon's side. */
static void conn_maybe_finish(struct conn *c)
{
        if (c->dead || !c->resp_done || buf_avail(&c->out) > 0)
                return;
        if (c->req_done) {
                conn_kill(c);
                return;
        }
        (void)shutdown(c->fd, SHUT_WR);
}

static void conn_flush(struct conn *c)
{
        size_t before = buf_avail(&c->out);

        while (!c->dead && buf_avail(&c->out) > 0) {
                ssize_t k = send(c->fd, buf_head(&c->out), buf_avail(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        log_debug_errno(-errno, "link connection write failed: %m");
                        conn_kill(c);
                        return;
                }
                buf_consume(&c->out, (size_t)k);
        }
        if (buf_avail(&c->out) == 0 && c->out.cap > (64u << 10)) {
                /* Give back what a burst of output grew: idle memory must stay small. */
                buf_done(&c->out);
        }
        conn_update_events(c);
        if (before >= CONN_LOW_WATER && buf_avail(&c->out) < CONN_LOW_WATER && c->handler && c->handler->drained)
                c->handler->drained(c);
        conn_maybe_finish(c);
}

static void conn_append_frame(struct conn *c, enum link_frame_type type, const void *p, size_t n)
{
        const uint8_t *q = p;

        if (c->dead)
                return;
        do {
                size_t k = n > LINK_FRAME_MAX ? LINK_FRAME_MAX : n;

                if (link_frame_append(&c->out, type, q, k) < 0) {
                        log_error("Out of memory buffering a response, dropping the connection");
                        conn_kill(c);
                        return;
                }
                q += k;
                n -= k;
        } while (n > 0);
}

void conn_reply_head(struct conn *c, int status, const char *content_type, long long content_length)
{
        json_t *head, *headers;
        char *text;

        if (c->dead || c->resp_started)
                return;
        c->resp_started = true;
        headers = json_object();
        if (headers && content_type)
                json_object_set_new(headers, "Content-Type", json_string(content_type));
        if (headers && content_length >= 0) {
                char len[24];

                snprintf(len, sizeof(len), "%lld", content_length);
                json_object_set_new(headers, "content-length", json_string(len));
        }
        head = headers ? json_pack("{s:i, s:o}", "status", status, "headers", headers) : NULL;
        text = head ? json_dumps(head, JSON_COMPACT) : NULL;
        json_decref(head);
        if (!text) {
                conn_kill(c);
                return;
        }
        conn_append_frame(c, LINK_HEAD, text, strlen(text));
        free(text);
        conn_flush(c);
}

void conn_reply_body(struct conn *c, const void *p, size_t n)
{
        if (c->dead || !c->resp_started || c->resp_done || n == 0)
                return;
        conn_append_frame(c, LINK_BODY, p, n);
        conn_flush(c);
}

void conn_reply_end(struct conn *c)
{
        if (c->dead || !c->resp_started || c->resp_done)
                return;
        c->resp_done = true;
        conn_append_frame(c, LINK_END, NULL, 0);
        conn_flush(c);
}

void conn_reply(struct conn *c, int status, const char *content_type, const void *p, size_t n)
{
        conn_reply_head(c, status, content_type, (long long)n);
        conn_reply_body(c, p, n);
        conn_reply_end(c);
}

void conn_reply_error(struct conn *c, int status, const char *fmt, ...)
{
        char message[512];
        struct buf b = {0};
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        /* Lossy: a quoted path or user name may hold bytes that are not UTF-8. */
        if (buf_printf(&b, "{\"code\":%d,\"message\":", status) < 0 ||
            jsonstr_append(&b, message, strlen(message), true) < 0 || buf_append(&b, "}", 1) < 0) {
                buf_done(&b);
                conn_kill(c);
                return;
        }
        conn_reply(c, status, "application/json; charset=utf-8", buf_head(&b), buf_avail(&b));
        buf_done(&b);
}

static void conn_handle_head(struct conn *c, const uint8_t *p, uint32_t n)
{
        c->head_done = true;
        c->head = json_loadb((const char *)p, n, 0, NULL);
        c->method = json_string_value(json_object_get(c->head, "method"));
        c->path = json_string_value(json_object_get(c->head, "path"));
        if (!c->method || !c->path) {
                conn_reply_error(c, 400, "malformed link request head");
                return;
        }
        router_head(c);
}

static void conn_handle_body(struct conn *c, const uint8_t *p, uint32_t n)
{
        if (c->resp_done)
                return; /* answered early (an error): the rest of the body is irrelevant */
        if (c->body_streaming && !c->handler)
                return;
        if (buf_avail(&c->body) + n > CONN_BODY_MAX) {
                buf_done(&c->body);
                conn_clear_handler(c);
                if (!c->resp_started)
                        conn_reply_error(c, 413, "request body is larger than %u bytes", CONN_BODY_MAX);
                else
                        conn_kill(c);
                return;
        }
        if (buf_append(&c->body, p, n) < 0) {
                conn_kill(c);
                return;
        }
        if (c->body_streaming && c->handler && c->handler->body)
                c->handler->body(c);
}

static void conn_handle_frame(struct conn *c, enum link_frame_type type, const uint8_t *p, uint32_t n)
{
        if (c->req_done)
                return; /* nothing may follow END; ignore rather than guess */
        if (type != LINK_HEAD && !c->head_done) {
                log_debug("link request without HEAD, dropping the connection");
                conn_kill(c);
                return;
        }
        switch (type) {
        case LINK_HEAD:
                if (c->head_done) {
                        conn_kill(c);
                        return;
                }
                conn_handle_head(c, p, n);
                break;
        case LINK_BODY:
                conn_handle_body(c, p, n);
                break;
        case LINK_END:
                c->req_done = true;
                if (c->body_streaming) {
                        if (c->handler && c->handler->end)
                                c->handler->end(c);
                } else if (!c->resp_started)
                        router_request(c);
                buf_done(&c->body);
                conn_maybe_finish(c);
                break;
        }
}

static void conn_read(struct conn *c)
{
        ssize_t k;

        if (buf_reserve(&c->in, CONN_READ_CHUNK) < 0) {
                conn_kill(c);
                return;
        }
        k = recv(c->fd, c->in.data + c->in.len, CONN_READ_CHUNK, MSG_DONTWAIT);
        if (k < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                log_debug_errno(-errno, "link connection read failed: %m");
                conn_kill(c);
                return;
        }
        if (k == 0) {
                /* The daemon closed the link: the client went away (or the exchange is
                 * over). Streams detach; processes keep running (protocol.md §3.6). */
                conn_kill(c);
                return;
        }
        c->in.len += (size_t)k;
        for (;;) {
                enum link_frame_type type;
                const uint8_t *payload;
                uint32_t len;
                int r = link_frame_parse(buf_head(&c->in), buf_avail(&c->in), &type, &payload, &len);

                if (r < 0) {
                        log_debug("malformed link frame, dropping the connection");
                        conn_kill(c);
                        return;
                }
                if (r == 0)
                        break;
                conn_handle_frame(c, type, payload, len);
                buf_consume(&c->in, LINK_HEADER_SIZE + len);
                if (c->dead)
                        return;
        }
        if (buf_avail(&c->in) == 0)
                buf_done(&c->in); /* idle connections hold no read buffer */
}

static void conn_io(struct loop_io *io, uint32_t events)
{
        struct conn *c = io->userdata;

        if (events & EPOLLOUT)
                conn_flush(c);
        if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
                conn_read(c);
}

static void conn_listen_retry(struct loop_timer *t)
{
        struct agent *a = t->userdata;

        (void)loop_io_set_events(&a->listen_io, EPOLLIN);
}

void conn_listen_event(struct loop_io *io, uint32_t events)
{
        struct agent *a = io->userdata;

        for (int i = 0; i < 16; i++) {
                struct conn *c;
                int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        /* Out of fds or memory: pause accepting briefly instead of spinning
                         * on a level-triggered listener; say so once per failing streak. */
                        if (!a->accept_failing)
                                log_warning_errno(-errno, "Failed to accept link connections, retrying every 100ms: %m");
                        a->accept_failing = true;
                        (void)loop_io_set_events(&a->listen_io, 0);
                        loop_timer_arm(a->loop, &a->listen_retry, loop_now() + 100000, conn_listen_retry, a);
                        return;
                }
                a->accept_failing = false;
                if (a->n_conns >= CONN_MAX) {
                        log_debug("Too many link connections (%u), refusing one", CONN_MAX);
                        safe_close(fd);
                        continue;
                }
                c = calloc(1, sizeof(*c));
                if (!c) {
                        safe_close(fd);
                        continue;
                }
                c->agent = a;
                c->fd = fd;
                if (loop_io_add(a->loop, &c->io, fd, EPOLLIN | EPOLLRDHUP, conn_io, c) < 0) {
                        safe_close(fd);
                        free(c);
                        continue;
                }
                c->next = a->conns;
                if (a->conns)
                        a->conns->prev = c;
                a->conns = c;
                a->n_conns++;
        }
}
