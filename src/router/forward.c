/* Port forwarding: one HTTP/1.1 exchange between an MHD connection and a TCP port
 * in a sandbox (see forward.h). The upstream socket comes from the lifecycle layer
 * (the sandbox's own network namespace, loopback only); the port comes from the
 * routing headers, never from a body. */
#include "forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "../api/reply.h"
#include "../base/log.h"
#include "../lifecycle/manager.h"
#include "forward-head.h"
#include "forward-response.h"
#include "forward-tunnel.h"
#include "route.h"
#include "wait.h"

#define FORWARD_CONNECT_TIMEOUT_MS 10000
#define FORWARD_SEND_TIMEOUT_S 600 /* as MHD's own connection timeout */
#define FORWARD_BLOCK (64 * 1024)

struct forward {
        struct live_sandbox *sandbox; /* our reference: the namespace fd lives as long */
        struct forward_tunnels *tunnels;
        char id[ROUTE_ID_MAX + 1];
        unsigned port;
        int upstream_fd;
        int client_fd; /* MHD's, only polled for a hang-up; -1 when unknown */
        struct forward_plan plan;
        bool upstream_broken; /* a write failed: the rest of the request body is dropped */
        struct forward_response resp;
        char *scratch;       /* FORWARD_BLOCK bytes for reads from upstream */
        struct buf leftover; /* after a 101: what upstream sent behind its head */
};

void forward_free(struct forward *f)
{
        if (!f)
                return;
        safe_close(f->upstream_fd);
        forward_response_done(&f->resp);
        buf_done(&f->leftover);
        free(f->scratch);
        live_sandbox_unref(f->sandbox);
        free(f);
}

static void forward_freep(struct forward **f)
{
        forward_free(*f);
}

/* ---- errors ------------------------------------------------------------------- */

/* A sandbox can trigger these at will: they are the user's business, logged at debug only. */
static enum MHD_Result reply_bad_gateway(struct MHD_Connection *c, const struct forward *f, const char *why)
{
        char message[384];

        snprintf(message, sizeof(message), "port %u of sandbox %s: %s", f->port, f->id, why);
        log_debug("sandbox=%s port %u: %s", f->id, f->port, why);
        return reply_json(c, 502, json_pack("{s:i, s:s}", "code", 502, "message", message));
}

static const char closed_port_html[] =
        "<!DOCTYPE html>\n"
        "<html lang=\"en\">\n"
        "<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>Closed Port Error</title>\n"
        "<style>body{font-family:system-ui,sans-serif;margin:4rem auto;max-width:40rem;padding:0 1rem;"
        "color:#222}code{background:#eee;padding:0 .3em;border-radius:3px}</style>\n"
        "</head>\n"
        "<body>\n"
        "<h1>Closed Port Error</h1>\n"
        "<p>The sandbox <code>%s</code> is running but there is no service running on port "
        "<code>%u</code>.</p>\n"
        "<p>Start a server inside the sandbox that listens on port %u (on 0.0.0.0, 127.0.0.1 or ::), "
        "then reload this page.</p>\n"
        "</body>\n"
        "</html>\n";

/* What E2B's proxy answers when nothing listens (its SDK tests check both shapes). */
static enum MHD_Result reply_closed_port(struct MHD_Connection *c, const char *id, unsigned port)
{
        const char *agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
        struct MHD_Response *resp;
        enum MHD_Result ret;
        char page[sizeof(closed_port_html) + 2 * ROUTE_ID_MAX + 16];
        int n;

        if (!agent || !strstr(agent, "Mozilla"))
                return reply_json(c, 502,
                                  json_pack("{s:s, s:s, s:i, s:i}", "message",
                                            "The sandbox is running but port is not open", "sandboxId", id,
                                            "port", (int)port, "code", 502));
        n = snprintf(page, sizeof(page), closed_port_html, id, port, port);
        resp = MHD_create_response_from_buffer((size_t)n, page, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        ret = MHD_queue_response(c, 502, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result forward_reply_failure(struct MHD_Connection *c, const char *sandbox_id, unsigned port, int r,
                                      const struct nb_error *err)
{
        log_debug("sandbox=%s port %u: %s", sandbox_id, port, err->message);
        if (r == -ECONNREFUSED)
                return reply_closed_port(c, sandbox_id, port);
        if (r == -EINVAL)
                return reply_error(c, 400, "%s", err->message);
        if (r == -EACCES)
                return reply_error(c, 403, "%s", err->message);
        if (r == -ENOMEM)
                return reply_error(c, 500, "out of memory");
        return reply_json(c, 502, json_pack("{s:i, s:s}", "code", 502, "message", err->message));
}

/* ---- request ------------------------------------------------------------------ */

struct header_list {
        struct forward_header *v;
        size_t n, cap;
        bool oom;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
        struct header_list *l = cls;

        if (!key)
                return MHD_YES;
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 32;
                struct forward_header *v = realloc(l->v, cap * sizeof(*v));

                if (!v) {
                        l->oom = true;
                        return MHD_NO;
                }
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n++] = (struct forward_header){key, value ? value : ""};
        return MHD_YES;
}

static const char *client_address(struct MHD_Connection *c, char *out, size_t size)
{
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;

        if (sa && sa->sa_family == AF_INET &&
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                      (socklen_t)size))
                return out;
        if (sa && sa->sa_family == AF_INET6 &&
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                      (socklen_t)size))
                return out;
        return NULL;
}

static int send_all(int fd, const void *data, size_t n)
{
        const char *p = data;

        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? -ETIMEDOUT : -errno; /* EAGAIN: SO_SNDTIMEO ran out */
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

static int build_head(struct forward *f, struct MHD_Connection *c, const char *method, const char *version,
                      const char *target, struct buf *head, struct nb_error *err)
{
        struct header_list headers = {0};
        char addr[INET6_ADDRSTRLEN];
        const char *why = NULL;
        int r;

        MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &headers);
        if (headers.oom) {
                free(headers.v);
                return nb_error_oom(err);
        }
        struct forward_request req = {
                .method = method,
                .target = target,
                .headers = headers.v,
                .n_headers = headers.n,
                .client_address = client_address(c, addr, sizeof(addr)),
                .port = f->port,
                .http11 = version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0,
        };
        r = forward_request_head(&req, &f->plan, head, &why);
        free(headers.v);
        if (r == -EINVAL)
                return nb_error_set(err, r, "not passed on to port %u: the request has %s", f->port, why);
        if (r < 0)
                return nb_error_oom(err);
        return 0;
}

int forward_begin(struct live_sandbox *s, struct MHD_Connection *c, unsigned port, const char *method,
                  const char *version, const char *target, struct forward_tunnels *tunnels,
                  struct forward **ret, struct nb_error *err)
{
        _cleanup_(forward_freep) struct forward *f = NULL;
        struct timeval send_timeout = {.tv_sec = FORWARD_SEND_TIMEOUT_S};
        const union MHD_ConnectionInfo *info;
        struct buf head = {0};
        int r;

        f = calloc(1, sizeof(*f));
        if (!f) {
                live_sandbox_unref(s);
                return nb_error_oom(err);
        }
        f->sandbox = s;
        f->tunnels = tunnels;
        f->upstream_fd = -EBADF;
        f->port = port;
        snprintf(f->id, sizeof(f->id), "%s", live_sandbox_id(s));
        forward_response_init(&f->resp, strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
        f->scratch = malloc(FORWARD_BLOCK);
        if (!f->scratch)
                return nb_error_oom(err);
        info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        f->client_fd = info ? info->connect_fd : -1;

        if (!live_sandbox_ports_public(s)) {
                /* Fail closed: without the token E2B would ask for, nobody gets in. */
                r = nb_error_set(
                        err, -EACCES,
                        "sandbox %s was created with network.allowPublicTraffic false; nestbox issues "
                        "no traffic access tokens yet, so its ports are closed to outside traffic",
                        f->id);
                goto out;
        }
        r = build_head(f, c, method, version, target, &head, err);
        if (r < 0)
                goto out;
        r = live_sandbox_connect_port(s, (uint16_t)port, FORWARD_CONNECT_TIMEOUT_MS, err);
        if (r < 0)
                goto out;
        f->upstream_fd = r;
        /* A sandbox that stops reading must not hold this thread forever. */
        (void)setsockopt(f->upstream_fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
        r = send_all(f->upstream_fd, head.data, head.len);
        if (r < 0) {
                nb_error_set_errno(err, r, "port %u of sandbox %s took the connection but not the request",
                                   port, f->id);
                goto out;
        }
        log_debug("sandbox=%s port %u: %s %.128s", f->id, port, method, target);
        *ret = TAKE_PTR(f);
        r = 0;
out:
        buf_done(&head);
        return r;
}

void forward_body(struct forward *f, const char *data, size_t n)
{
        char size[24];
        int r;

        if (f->upstream_broken || n == 0)
                return;
        if (f->plan.body == FORWARD_BODY_CHUNKED) {
                snprintf(size, sizeof(size), "%zx\r\n", n);
                r = send_all(f->upstream_fd, size, strlen(size));
                if (r >= 0)
                        r = send_all(f->upstream_fd, data, n);
                if (r >= 0)
                        r = send_all(f->upstream_fd, "\r\n", 2);
        } else
                r = send_all(f->upstream_fd, data, n);
        if (r < 0) {
                log_debug("sandbox=%s port %u stopped reading the request body: %s", f->id, f->port,
                          strerror(-r));
                f->upstream_broken = true;
        }
}

/* ---- response ----------------------------------------------------------------- */

/* Reads once from upstream and parses it. Returns the bytes parsed as HTTP, or < 0. */
static ssize_t read_upstream(struct forward *f, size_t *ret_read)
{
        ssize_t n;
        int r;

        r = wait_readable_or_hangup(f->upstream_fd, f->client_fd);
        if (r < 0)
                return r;
        do
                n = recv(f->upstream_fd, f->scratch, FORWARD_BLOCK, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                /* A reset is no clean end, even for a body that ends when the connection does. */
                f->resp.error = "the connection was reset";
                return -errno;
        }
        *ret_read = (size_t)n;
        return forward_response_feed(&f->resp, f->scratch, (size_t)n);
}

static ssize_t read_body(void *cls, uint64_t pos, char *out, size_t max)
{
        struct forward *f = cls;

        for (;;) {
                size_t avail = buf_avail(&f->resp.body), n;
                ssize_t r;

                if (avail > 0) {
                        size_t k = avail < max ? avail : max;

                        memcpy(out, buf_head(&f->resp.body), k);
                        buf_consume(&f->resp.body, k);
                        return (ssize_t)k;
                }
                if (f->resp.complete)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                r = read_upstream(f, &n);
                if (r < 0) {
                        if (r != -ECONNRESET || f->resp.error)
                                log_debug("sandbox=%s port %u: answer cut short: %s", f->id, f->port,
                                          f->resp.error ? f->resp.error : strerror((int)-r));
                        /* MHD closes the client connection: a client never takes a cut body for whole. */
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                }
        }
}

static void body_done(void *cls)
{
        forward_free(cls);
}

static void add_headers(struct MHD_Response *resp, const struct forward_response *r)
{
        for (size_t i = 0; i < r->n_headers; i++) {
                const struct forward_header *h = &r->headers[i];

                if (forward_response_header_dropped(h->name, r->headers, r->n_headers))
                        continue;
                if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
                        log_debug("response header '%.64s' not passed on (MHD refused it)", h->name);
        }
}

static enum MHD_Result queue_stream(struct forward *f, struct MHD_Connection *c)
{
        const struct forward_response *r = &f->resp;
        struct MHD_Response *resp;
        enum MHD_Result ret;
        uint64_t size;

        if (r->has_length)
                size = r->content_length;
        else if (r->complete && !r->head_request && r->status != 304)
                size = buf_avail(&r->body); /* all of it is here already */
        else
                size = MHD_SIZE_UNKNOWN; /* chunked to the client */
        resp = MHD_create_response_from_callback(size, FORWARD_BLOCK, read_body, f, body_done);
        if (!resp) {
                forward_free(f);
                return MHD_NO;
        }
        add_headers(resp, r);
        ret = MHD_queue_response(c, r->status, resp);
        MHD_destroy_response(resp); /* body_done frees f once MHD is finished with it */
        return ret;
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *req_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        struct forward *f = cls;

        /* Called on the connection's own thread (thread-per-connection): blocking here holds
         * only this connection. The caller frees f after this returns. */
        log_debug("sandbox=%s port %u: protocol switched, tunnelling", f->id, f->port);
        forward_tunnel_run(f->tunnels, sock, f->upstream_fd, extra_in, extra_in_size,
                           f->leftover.data ? buf_head(&f->leftover) : NULL, buf_avail(&f->leftover));
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static enum MHD_Result queue_upgrade(struct forward *f, struct MHD_Connection *c)
{
        const char *upgrade = NULL;
        struct MHD_Response *resp;
        enum MHD_Result ret;

        for (size_t i = 0; i < f->resp.n_headers; i++)
                if (strcasecmp(f->resp.headers[i].name, "upgrade") == 0)
                        upgrade = f->resp.headers[i].value;
        if (!upgrade)
                return reply_bad_gateway(c, f,
                                         "it answered 101 without naming a protocol (no Upgrade header)");
        resp = MHD_create_response_for_upgrade(on_upgrade, f);
        if (!resp)
                return MHD_NO;
        add_headers(resp, &f->resp);
        /* MHD's upgrade response carries "Connection: Upgrade" already. */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, upgrade);
        ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result forward_finish(struct forward **fp, struct MHD_Connection *c)
{
        struct forward *f = *fp;
        enum MHD_Result ret;
        size_t n = 0;
        ssize_t used = 0;

        if (f->plan.body == FORWARD_BODY_CHUNKED && !f->upstream_broken &&
            send_all(f->upstream_fd, "0\r\n\r\n", 5) < 0)
                f->upstream_broken = true;
        while (!f->resp.headers_done) {
                used = read_upstream(f, &n);
                if (used == -ECONNRESET && !f->resp.error) {
                        *fp = NULL;
                        forward_free(f);
                        return MHD_NO; /* the client left */
                }
                if (used < 0) {
                        const char *why = f->resp.error ? f->resp.error : strerror((int)-used);

                        ret = reply_bad_gateway(c, f, why);
                        *fp = NULL;
                        forward_free(f);
                        return ret;
                }
        }
        if (f->resp.upgrade) {
                if (!f->plan.upgrade) {
                        ret = reply_bad_gateway(c, f, "it switched protocols (101) without being asked to");
                        *fp = NULL;
                        forward_free(f);
                        return ret;
                }
                /* What followed the 101 head in the same read already belongs to the new protocol. */
                if ((size_t)used < n && buf_append(&f->leftover, f->scratch + used, n - (size_t)used) < 0)
                        return MHD_NO;
                return queue_upgrade(f, c); /* f stays with the request until it completes */
        }
        *fp = NULL;
        return queue_stream(f, c);
}
