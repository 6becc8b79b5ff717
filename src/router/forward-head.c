/* Request heads and header filtering for port forwarding (see forward-head.h). The
 * rules follow RFC 9110/9112 for intermediaries: hop-by-hop headers stop here, the
 * body framing is ours (one Content-Length or chunked, never both, so the upstream
 * and we can never disagree on where a request ends), and nothing with a control
 * character reaches the upstream's parser. */
#include "forward-head.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../base/macro.h"

bool forward_header_is_hop_by_hop(const char *name)
{
        static const char *const hop[] = {"connection",
                                          "keep-alive",
                                          "proxy-connection",
                                          "te",
                                          "trailer",
                                          "transfer-encoding",
                                          "upgrade",
                                          "proxy-authenticate",
                                          "proxy-authorization"};

        for (size_t i = 0; i < ELEMENTSOF(hop); i++)
                if (strcasecmp(name, hop[i]) == 0)
                        return true;
        return false;
}

bool forward_connection_lists(const char *connection, const char *name)
{
        size_t n = strlen(name);
        const char *p = connection;

        while (p && *p) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t)(end - p) : strlen(p);

                while (len > 0 && (*p == ' ' || *p == '\t')) {
                        p++;
                        len--;
                }
                while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                        len--;
                if (len == n && strncasecmp(p, name, n) == 0)
                        return true;
                p = end ? end + 1 : NULL;
        }
        return false;
}

static bool listed_by_connection(const struct forward_header *h, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(h[i].name, "connection") == 0 && forward_connection_lists(h[i].value, name))
                        return true;
        return false;
}

bool forward_response_header_dropped(const char *name, const struct forward_header *headers, size_t n)
{
        return forward_header_is_hop_by_hop(name) || strcasecmp(name, "content-length") == 0 ||
               listed_by_connection(headers, n, name);
}

static const struct forward_header *find(const struct forward_request *req, const char *name)
{
        for (size_t i = 0; i < req->n_headers; i++)
                if (strcasecmp(req->headers[i].name, name) == 0)
                        return &req->headers[i];
        return NULL;
}

/* RFC 9110 §5.6.2 token characters. */
static bool valid_name(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;

                if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      strchr("!#$%&'*+-.^_`|~", ch)))
                        return false;
        }
        return true;
}

static bool valid_value(const char *s)
{
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;

                if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                        return false;
        }
        return true;
}

static bool valid_target(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;

                if (ch <= 0x20 || ch == 0x7f)
                        return false;
        }
        return true;
}

/* The last transfer coding must be chunked for the body to have an end (RFC 9112 §6.3). */
static bool ends_chunked(const char *te)
{
        const char *last = strrchr(te, ',');
        size_t len;

        last = last ? last + 1 : te;
        while (*last == ' ' || *last == '\t')
                last++;
        len = strlen(last);
        while (len > 0 && (last[len - 1] == ' ' || last[len - 1] == '\t'))
                len--;
        return len == 7 && strncasecmp(last, "chunked", 7) == 0;
}

static int plan_body(const struct forward_request *req, struct forward_plan *plan, const char **ret_why)
{
        bool seen_length = false;

        for (size_t i = 0; i < req->n_headers; i++) {
                const char *v = req->headers[i].value;
                unsigned long long len;
                char *end;

                if (strcasecmp(req->headers[i].name, "transfer-encoding") == 0) {
                        if (!ends_chunked(v)) {
                                *ret_why = "a Transfer-Encoding that does not end in chunked";
                                return -EINVAL;
                        }
                        plan->body = FORWARD_BODY_CHUNKED;
                }
                if (strcasecmp(req->headers[i].name, "content-length") != 0)
                        continue;
                errno = 0;
                len = strtoull(v, &end, 10);
                if (v[0] < '0' || v[0] > '9' || *end || errno != 0 ||
                    (seen_length && len != plan->content_length)) {
                        *ret_why = "an unusable Content-Length";
                        return -EINVAL;
                }
                seen_length = true;
                plan->content_length = len;
        }
        /* Both framings: chunked wins and the length goes (RFC 9112 §6.3, point 3). */
        if (plan->body != FORWARD_BODY_CHUNKED && seen_length)
                plan->body = FORWARD_BODY_LENGTH;
        return 0;
}

/* Headers we replace with our own, or that were meant for the router. */
static bool rewritten(const char *name)
{
        static const char *const ours[] = {"content-length", "x-forwarded-for", "expect", "e2b-sandbox-id",
                                           "e2b-sandbox-port"};

        for (size_t i = 0; i < ELEMENTSOF(ours); i++)
                if (strcasecmp(name, ours[i]) == 0)
                        return true;
        return false;
}

static int write_forwarded_for(const struct forward_request *req, struct buf *out)
{
        bool first = true;
        int r = 0;

        for (size_t i = 0; i < req->n_headers && r >= 0; i++)
                if (strcasecmp(req->headers[i].name, "x-forwarded-for") == 0) {
                        r = buf_printf(out, "%s%s", first ? "X-Forwarded-For: " : ", ",
                                       req->headers[i].value);
                        first = false;
                }
        if (r >= 0 && req->client_address)
                r = buf_printf(out, "%s%s", first ? "X-Forwarded-For: " : ", ", req->client_address);
        else if (r >= 0 && first)
                return 0;
        return r < 0 ? r : buf_printf(out, "\r\n");
}

int forward_request_head(const struct forward_request *req, struct forward_plan *ret_plan, struct buf *out,
                         const char **ret_why)
{
        struct forward_plan plan = {.body = FORWARD_BODY_NONE};
        const struct forward_header *upgrade = find(req, "upgrade");
        int r;

        if (!valid_name(req->method)) {
                *ret_why = "a method that is not a token";
                return -EINVAL;
        }
        if (!valid_target(req->target)) {
                *ret_why = "a request target with spaces or control characters";
                return -EINVAL;
        }
        for (size_t i = 0; i < req->n_headers; i++)
                if (!valid_name(req->headers[i].name) || !valid_value(req->headers[i].value)) {
                        *ret_why = "a header with characters HTTP does not allow";
                        return -EINVAL;
                }
        r = plan_body(req, &plan, ret_why);
        if (r < 0)
                return r;
        plan.upgrade =
                upgrade && req->http11 && listed_by_connection(req->headers, req->n_headers, "upgrade");

        r = buf_printf(out, "%s %s HTTP/1.1\r\n", req->method, req->target);
        if (r >= 0 && !find(req, "host"))
                r = buf_printf(out, "Host: 127.0.0.1:%u\r\n", req->port);
        for (size_t i = 0; i < req->n_headers && r >= 0; i++) {
                const struct forward_header *h = &req->headers[i];

                if (forward_header_is_hop_by_hop(h->name) || rewritten(h->name) ||
                    listed_by_connection(req->headers, req->n_headers, h->name))
                        continue;
                r = buf_printf(out, "%s: %s\r\n", h->name, h->value);
        }
        if (r >= 0)
                r = write_forwarded_for(req, out);
        if (r >= 0 && !find(req, "x-forwarded-proto"))
                r = buf_printf(out, "X-Forwarded-Proto: http\r\n");
        if (r >= 0 && plan.upgrade)
                r = buf_printf(out, "Connection: Upgrade\r\nUpgrade: %s\r\n", upgrade->value);
        else if (r >= 0)
                /* One upstream connection per request: the upstream ends EOF-framed bodies by closing. */
                r = buf_printf(out, "Connection: close\r\n");
        if (r >= 0 && plan.body == FORWARD_BODY_LENGTH)
                r = buf_printf(out, "Content-Length: %llu\r\n", plan.content_length);
        else if (r >= 0 && plan.body == FORWARD_BODY_CHUNKED)
                r = buf_printf(out, "Transfer-Encoding: chunked\r\n");
        if (r >= 0)
                r = buf_printf(out, "\r\n");
        if (r < 0)
                return r;
        *ret_plan = plan;
        return 0;
}
