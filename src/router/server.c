/* server: MHD setup and the access handler. The first call of the handler for
 * a request routes it (route.c); API requests have their body collected and
 * are answered by api/; sandbox requests are relayed as they come, by proxy.c to
 * the agent (envd and code-interpreter ports) or by forward.c to any other port. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/api.h"
#include "../api/reply.h"
#include "../base/buf.h"
#include "../base/log.h"
#include "../daemon.h"
#include "../lifecycle/manager.h"
#include "forward-tunnel.h"
#include "forward.h"
#include "proxy.h"
#include "route.h"

#define API_BODY_MAX (1u << 20)

struct server {
        struct MHD_Daemon *mhd;
        struct daemon *d;
        struct forward_tunnels *tunnels; /* upgraded forwards, ended before MHD stops */
};

struct request {
        bool routed;
        struct route route;
        char *target;           /* the request-target as received (MHD unescapes its url) */
        struct buf body;        /* API requests only */
        bool body_too_large;
        struct proxy *proxy;    /* envd and interpreter ports; NULL once handed to MHD */
        struct forward *forward; /* other ports; NULL once handed to MHD */
        bool answered;          /* an error was queued early; ignore the rest of the upload */
};

/* envd's control-plane paths, never reachable from outside (protocol.md §4.5). */
static bool internal_agent_path(const char *url)
{
        static const char *const blocked[] = {"/init", "/freeze", "/unfreeze", "/collapse", "/fsfreeze", "/fsthaw"};

        for (size_t i = 0; i < ELEMENTSOF(blocked); i++)
                if (strcmp(url, blocked[i]) == 0)
                        return true;
        return false;
}

static enum MHD_Result start_sandbox_request(struct server *srv, struct MHD_Connection *c, struct request *req,
                                             const char *method, const char *url, const char *version)
{
        struct live_sandbox *s;
        struct nb_error err = {0};
        int r;

        if (req->route.port == ENVD_PORT && internal_agent_path(url)) {
                req->answered = true;
                return reply_error(c, 404, "path '%.64s' is not available from outside the sandbox", url);
        }
        s = manager_get(srv->d->manager, req->route.sandbox_id);
        if (!s) {
                req->answered = true;
                return reply_sandbox_not_found(c, req->route.sandbox_id);
        }
        if (live_sandbox_ready(s, &err) < 0) {
                /* Frozen processes would hold the request forever: answer as E2B does for a
                 * sandbox that is not running. */
                live_sandbox_unref(s);
                req->answered = true;
                log_debug("%s", err.message);
                return reply_sandbox_not_found(c, req->route.sandbox_id);
        }
        if (req->route.port != ENVD_PORT && req->route.port != CODE_INTERPRETER_PORT) {
                r = forward_begin(s, c, req->route.port, method, version, req->target ? req->target : url,
                                  srv->tunnels, &req->forward, &err);
                if (r < 0) {
                        req->answered = true;
                        return forward_reply_failure(c, req->route.sandbox_id, req->route.port, r, &err);
                }
                return MHD_YES;
        }
        if (proxy_begin(s, c, req->route.port, method, url, &req->proxy, &err) < 0) {
                req->answered = true;
                log_debug("%s", err.message);
                return reply_sandbox_not_found(c, req->route.sandbox_id);
        }
        return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
        struct server *srv = cls;
        struct request *req = *con_cls;

        if (!req || !req->routed) {
                if (!req) { /* on_uri could not allocate it */
                        req = calloc(1, sizeof(*req));
                        if (!req)
                                return MHD_NO;
                        *con_cls = req;
                }
                req->routed = true;
                route_classify(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "E2b-Sandbox-Id"),
                               MHD_lookup_connection_value(c, MHD_HEADER_KIND, "E2b-Sandbox-Port"),
                               MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST), &req->route);
                log_debug("%s %s%s%s", method, url, req->route.kind == ROUTE_SANDBOX ? " sandbox=" : "",
                          req->route.kind == ROUTE_SANDBOX ? req->route.sandbox_id : "");
                if (req->route.kind == ROUTE_INVALID) {
                        req->answered = true;
                        return reply_error(c, 400, "%s", req->route.message);
                }
                if (req->route.kind == ROUTE_SANDBOX)
                        return start_sandbox_request(srv, c, req, method, url, version);
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (req->answered)
                        return MHD_YES;
                if (req->forward) {
                        forward_body(req->forward, upload_data, n);
                        return MHD_YES;
                }
                if (req->proxy) {
                        if (proxy_body(req->proxy, upload_data, n) < 0) {
                                proxy_abort(req->proxy);
                                req->proxy = NULL;
                                req->answered = true;
                                return reply_sandbox_not_found(c, req->route.sandbox_id);
                        }
                        return MHD_YES;
                }
                if (req->body.len + n > API_BODY_MAX)
                        req->body_too_large = true;
                else if (buf_append(&req->body, upload_data, n) < 0)
                        return MHD_NO;
                return MHD_YES;
        }

        if (req->answered)
                return MHD_YES;
        if (req->forward)
                return forward_finish(&req->forward, c);
        if (req->proxy) {
                struct proxy *p = TAKE_PTR(req->proxy);

                return proxy_finish(p, c);
        }
        if (req->body_too_large)
                return reply_error(c, 413, "request body is larger than %u bytes", API_BODY_MAX);
        return api_handle(srv->d, c, method, url, (const char *)req->body.data, req->body.len);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
        struct request *req = *con_cls;

        if (!req)
                return;
        proxy_abort(req->proxy);
        forward_free(req->forward); /* after an upgrade: its tunnel has ended */
        buf_done(&req->body);
        free(req->target);
        free(req);
        *con_cls = NULL;
}

/* Called once per request, before MHD unescapes the url and splits off its query: the
 * only place the request-target is seen as the client sent it, which port forwarding
 * passes on unchanged. Its result becomes the request's *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
        struct request *req = calloc(1, sizeof(*req));

        if (req)
                req->target = strdup(uri); /* NULL on failure: the unescaped url stands in */
        return req;
}

/* libmicrohttpd's own messages (a client that went away mid-stream, a malformed request)
 * are about one connection, not the server: keep them at debug level, in our format. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        char line[512];
        size_t n;

        if (log_get_level() < LOG_LEVEL_DEBUG)
                return;
        vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        while (n > 0 && line[n - 1] == '\n')
                line[--n] = 0;
        log_debug("http: %s", line);
}

static int parse_listen(const char *listen, struct sockaddr_in *ret, struct nb_error *err)
{
        char host[64];
        const char *colon = strrchr(listen, ':');
        char *end;
        unsigned long port;

        if (!colon || (size_t)(colon - listen) >= sizeof(host))
                return nb_error_set(err, -EINVAL, "--listen '%.64s' must look like 127.0.0.1:3000", listen);
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = 0;
        port = strtoul(colon + 1, &end, 10);
        if (*end || port == 0 || port > 65535)
                return nb_error_set(err, -EINVAL, "--listen '%.64s' has no valid port", listen);
        *ret = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &ret->sin_addr) != 1)
                return nb_error_set(err, -EINVAL, "--listen '%.64s': '%s' is not an IPv4 address", listen, host);
        return 0;
}

int server_start(struct daemon *d, struct server **ret, struct nb_error *err)
{
        struct sockaddr_in addr;
        struct server *s;
        int r;

        r = parse_listen(d->listen, &addr, err);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                return nb_error_oom(err);
        s->d = d;
        if (forward_tunnels_new(&s->tunnels) < 0) {
                free(s);
                return nb_error_oom(err);
        }
        /* MHD_ALLOW_UPGRADE: WebSockets to sandbox ports (forward-tunnel.c). */
        s->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                          MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE,
                                  0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                  MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                                  MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
                                  MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
        if (!s->mhd) {
                forward_tunnels_free(s->tunnels);
                free(s);
                return nb_error_set(err, -EADDRINUSE, "cannot listen on %s (is another server using it?)",
                                    d->listen);
        }
        *ret = s;
        return 0;
}

struct server *server_stop(struct server *s)
{
        if (!s)
                return NULL;
        /* MHD waits for upgraded connections' threads but does not end them: we do. */
        forward_tunnels_stop(s->tunnels);
        MHD_stop_daemon(s->mhd);
        forward_tunnels_free(s->tunnels);
        free(s);
        return NULL;
}
