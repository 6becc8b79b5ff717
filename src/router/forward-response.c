/* Parsing what a sandbox port answers (see forward-response.h). http_parser does the
 * HTTP work: status line, header syntax and size limit (80 KiB), chunked decoding,
 * Content-Length vs. Transfer-Encoding conflicts, bodies that end at EOF, and which
 * statuses have no body. This file keeps what it reports. 1xx heads other than 101
 * (100 Continue, 103 Early Hints) are skipped: MHD cannot send interim answers. */
#include "forward-response.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

static struct forward_response *of(http_parser *p)
{
        return p->data;
}

static int append(struct forward_response *r, const void *data, size_t len)
{
        if (buf_append(&r->raw, data, len) < 0) {
                r->oom = true;
                return -1;
        }
        return 0;
}

static int end_value(struct forward_response *r)
{
        /* http_parser keeps trailing blanks of a value: RFC 9110 §5.5 says they are not part of it. */
        while (r->raw.len > 0 && (r->raw.data[r->raw.len - 1] == ' ' || r->raw.data[r->raw.len - 1] == '\t'))
                r->raw.len--;
        if (r->n_headers >= FORWARD_RESPONSE_HEADERS_MAX) {
                r->error = "more than 256 headers";
                return -1;
        }
        r->n_headers++;
        return append(r, "", 1);
}

static int on_message_begin(http_parser *p)
{
        struct forward_response *r = of(p);

        buf_reset(&r->raw);
        r->n_headers = 0;
        r->in = 0;
        return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
        struct forward_response *r = of(p);

        if (r->in == 2 && end_value(r) < 0)
                return -1;
        r->in = 1;
        return append(r, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
        struct forward_response *r = of(p);

        if (r->in == 1 && append(r, "", 1) < 0)
                return -1;
        r->in = 2;
        return append(r, at, len);
}

static int on_headers_complete(http_parser *p)
{
        struct forward_response *r = of(p);
        const char *s;

        if (r->in == 1 && append(r, "", 1) < 0) /* a name with an empty value */
                return -1;
        if (r->in != 0 && end_value(r) < 0)
                return -1;
        r->in = 0;
        if (p->status_code / 100 == 1 && p->status_code != 101)
                return 0; /* interim: its message completes at once and the real one follows */

        s = (const char *)r->raw.data;
        for (size_t i = 0; i < r->n_headers; i++) {
                r->headers[i].name = s;
                s += strlen(s) + 1;
                r->headers[i].value = s;
                s += strlen(s) + 1;
        }
        r->status = p->status_code;
        r->upgrade = p->status_code == 101;
        r->has_length =
                !(p->flags & F_CHUNKED) && !p->uses_transfer_encoding && p->content_length != ULLONG_MAX;
        r->content_length = r->has_length ? p->content_length : 0;
        r->headers_done = true;
        /* 1: no body follows, whatever the headers say (answers to HEAD; a 101's bytes are not HTTP). */
        return r->head_request || r->upgrade ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
        struct forward_response *r = of(p);

        if (buf_append(&r->body, at, len) < 0) {
                r->oom = true;
                return -1;
        }
        return 0;
}

static int on_message_complete(http_parser *p)
{
        struct forward_response *r = of(p);

        if (!r->headers_done)
                return 0; /* the end of an interim 1xx */
        r->complete = true;
        /* Whatever follows is not ours: one request per upstream connection. */
        http_parser_pause(p, 1);
        return 0;
}

static const http_parser_settings settings = {
        .on_message_begin = on_message_begin,
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
};

void forward_response_init(struct forward_response *r, bool head_request)
{
        *r = (struct forward_response){.head_request = head_request};
        http_parser_init(&r->parser, HTTP_RESPONSE);
        r->parser.data = r;
}

void forward_response_done(struct forward_response *r)
{
        buf_done(&r->raw);
        buf_done(&r->body);
}

ssize_t forward_response_feed(struct forward_response *r, const char *data, size_t n)
{
        enum http_errno e;
        size_t used;

        if (r->complete)
                return r->upgrade ? 0 : (ssize_t)n;
        if (r->error)
                return -EPROTO;
        if (n == 0)
                r->eof = true;
        used = http_parser_execute(&r->parser, &settings, data, n);
        e = HTTP_PARSER_ERRNO(&r->parser);
        if (e == HPE_PAUSED || r->complete)
                return r->upgrade ? (ssize_t)used : (ssize_t)n;
        if (e != HPE_OK) {
                if (r->oom)
                        return -ENOMEM;
                if (!r->error)
                        r->error = http_errno_description(e);
                return -EPROTO;
        }
        if (n == 0) {
                /* Closed before the message ended (EOF-framed bodies completed above). */
                r->error = r->headers_done ? "the connection closed in the middle of the body"
                                           : "the connection closed before an HTTP answer";
                return -EPROTO;
        }
        return (ssize_t)used;
}
