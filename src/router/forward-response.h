/* The upstream's answer, parsed incrementally with nodejs' http_parser: status,
 * headers, and the body decoded (chunked or not) into a buffer the caller drains.
 * Pure (no sockets), so it is unit-tested byte by byte. */
#pragma once

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/buf.h"
#include "forward-head.h"

#define FORWARD_RESPONSE_HEADERS_MAX 256

struct forward_response {
        http_parser parser;
        bool head_request; /* the answer to HEAD has no body whatever it says */
        bool headers_done; /* the final (non-1xx) head is complete */
        bool complete;     /* the whole message is in: body holds its last bytes */
        bool upgrade;      /* 101 Switching Protocols: the rest is the new protocol */
        bool has_length;   /* Content-Length framed the body */
        bool eof;          /* the upstream closed its side */
        bool oom;
        unsigned status;
        uint64_t content_length;
        /* Headers as "name\0value\0" pairs; `headers` points into it once headers_done. */
        struct buf raw;
        struct forward_header headers[FORWARD_RESPONSE_HEADERS_MAX];
        size_t n_headers;
        int in;            /* 0 nothing, 1 in a name, 2 in a value */
        struct buf body;   /* decoded body bytes not yet taken (buf_head/buf_avail/buf_consume) */
        const char *error; /* why the answer was refused, static text */
};

void forward_response_init(struct forward_response *r, bool head_request);
void forward_response_done(struct forward_response *r);

/** Feeds bytes read from the upstream; n == 0 means it closed. Returns how many bytes
 *  belong to HTTP: all of them, except after a 101 head (the rest is the new protocol's)
 *  and after the message is complete (the rest is ignored). -EPROTO when the upstream
 *  did not speak HTTP/1.x (r->error says why), -ENOMEM. */
ssize_t forward_response_feed(struct forward_response *r, const char *data, size_t n);
