/* The pure half of relaying HTTP/1.1 to a TCP port inside a sandbox: which headers a
 * proxy keeps, how the request body is framed upstream, and the request head we
 * write. No sockets and no MHD here, so all of it is unit-tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../base/buf.h"

struct forward_header {
        const char *name;
        const char *value;
};

enum forward_body {
        FORWARD_BODY_NONE,
        FORWARD_BODY_LENGTH,  /* Content-Length: passed on as received */
        FORWARD_BODY_CHUNKED, /* the client sent chunks; we re-chunk what MHD decoded */
};

struct forward_request {
        const char *method;
        const char *target; /* request-target exactly as the client sent it */
        const struct forward_header *headers;
        size_t n_headers;
        const char *client_address; /* appended to X-Forwarded-For; NULL when unknown */
        unsigned port;              /* the sandbox port, for a request without Host */
        bool http11;                /* the client spoke HTTP/1.1 (an upgrade needs it) */
};

/* What the head promises about the rest of the exchange. */
struct forward_plan {
        enum forward_body body;
        unsigned long long content_length; /* FORWARD_BODY_LENGTH only */
        bool upgrade;                      /* Upgrade asked for and passed on */
};

/** True for headers about one connection rather than the message (RFC 9110 §7.6.1),
 *  which a proxy never passes on, in either direction. Case-insensitive. */
bool forward_header_is_hop_by_hop(const char *name);

/** True when `name` is one of the comma-separated tokens of a Connection header value
 *  (case-insensitive): such headers are hop-by-hop too. */
bool forward_connection_lists(const char *connection, const char *name);

/** True when a response header from upstream must not reach the client: hop-by-hop,
 *  named by one of the response's Connection headers, or Content-Length (MHD writes the
 *  length it sends). For a 101 the caller adds Connection and Upgrade back. */
bool forward_response_header_dropped(const char *name, const struct forward_header *headers, size_t n);

/** Appends the upstream request head to out: request line with the target as received,
 *  the client's headers minus hop-by-hop ones (Host kept), X-Forwarded-For/-Proto, our own
 *  body framing and Connection. -EINVAL when the target or a header could break the
 *  framing or the body length is unusable (*ret_why says which); -ENOMEM. */
int forward_request_head(const struct forward_request *req, struct forward_plan *ret_plan, struct buf *out,
                         const char **ret_why);
