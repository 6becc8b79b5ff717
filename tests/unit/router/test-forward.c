/* Port forwarding's pure parts: request heads (forward-head.c) and the upstream answer
 * parsed with http_parser (forward-response.c), fed whole and byte by byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../src/base/macro.h"
#include "../../../src/router/forward-head.h"
#include "../../../src/router/forward-response.h"

#define H(n, v) ((struct forward_header){(n), (v)})

/* ---- request heads ------------------------------------------------------------- */

static int head_of(const struct forward_header *h, size_t n, const char *method, const char *target,
                   bool http11, const char *addr, struct forward_plan *plan, char **ret_text,
                   const char **why)
{
        struct forward_request req = {.method = method,
                                      .target = target,
                                      .headers = h,
                                      .n_headers = n,
                                      .client_address = addr,
                                      .port = 8000,
                                      .http11 = http11};
        struct buf out = {0};
        int r = forward_request_head(&req, plan, &out, why);

        if (r >= 0) {
                buf_append(&out, "", 1);
                *ret_text = (char *)out.data;
        } else
                buf_done(&out);
        return r;
}

static void test_head_plain_get(void **state)
{
        const struct forward_header h[] = {
                H("Host", "8000-abc.example.com"), H("User-Agent", "curl/8"),    H("Accept", "*/*"),
                H("Connection", "keep-alive"),     H("Keep-Alive", "timeout=5"), H("E2b-Sandbox-Id", "abc"),
                H("E2b-Sandbox-Port", "8000")};
        struct forward_plan plan;
        const char *why = NULL;
        char *text = NULL;

        assert_int_equal(
                head_of(h, ELEMENTSOF(h), "GET", "/a%20b?x=1&y=%2F", true, "10.0.0.7", &plan, &text, &why),
                0);
        assert_string_equal(text, "GET /a%20b?x=1&y=%2F HTTP/1.1\r\n"
                                  "Host: 8000-abc.example.com\r\n"
                                  "User-Agent: curl/8\r\n"
                                  "Accept: */*\r\n"
                                  "X-Forwarded-For: 10.0.0.7\r\n"
                                  "X-Forwarded-Proto: http\r\n"
                                  "Connection: close\r\n"
                                  "\r\n");
        assert_int_equal(plan.body, FORWARD_BODY_NONE);
        assert_false(plan.upgrade);
        free(text);
}

static void test_head_body_framing(void **state)
{
        const struct forward_header len[] = {H("Host", "h"), H("Content-Length", "5"),
                                             H("Expect", "100-continue")};
        const struct forward_header chunked[] = {H("Host", "h"), H("Transfer-Encoding", "gzip, chunked"),
                                                 H("Content-Length", "5")};
        const struct forward_header twice[] = {H("Host", "h"), H("Content-Length", "5"),
                                               H("Content-Length", "5")};
        struct forward_plan plan;
        const char *why = NULL;
        char *text = NULL;

        assert_int_equal(head_of(len, ELEMENTSOF(len), "POST", "/", true, NULL, &plan, &text, &why), 0);
        assert_string_equal(text,
                            "POST / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n"
                            "Content-Length: 5\r\n\r\n");
        assert_int_equal(plan.body, FORWARD_BODY_LENGTH);
        assert_int_equal(plan.content_length, 5);
        free(text);

        /* Chunked wins over a length, and the codings before it are the client's business. */
        assert_int_equal(head_of(chunked, ELEMENTSOF(chunked), "PUT", "/x", true, NULL, &plan, &text, &why),
                         0);
        assert_string_equal(text,
                            "PUT /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: http\r\nConnection: close\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n");
        assert_int_equal(plan.body, FORWARD_BODY_CHUNKED);
        free(text);

        assert_int_equal(head_of(twice, ELEMENTSOF(twice), "POST", "/", true, NULL, &plan, &text, &why), 0);
        assert_int_equal(plan.body, FORWARD_BODY_LENGTH);
        free(text);
}

static void test_head_refused(void **state)
{
        static const struct forward_header bad[][2] = {
                {H("Host", "h"), H("Content-Length", "5x")},
                {H("Host", "h"), H("Content-Length", "-1")},
                {H("Content-Length", "5"), H("Content-Length", "6")},
                {H("Host", "h"), H("Transfer-Encoding", "gzip")},
                {H("Host", "h"), H("X-Evil", "a\r\nContent-Length: 0")},
                {H("Host", "h"), H("Bad Name", "v")},
                {H("Host", "h"), H("X", "nul\x01")},
        };
        struct forward_plan plan;
        const char *why = NULL;
        char *text = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                why = NULL;
                assert_int_equal(head_of(bad[i], 2, "POST", "/", true, NULL, &plan, &text, &why), -EINVAL);
                assert_non_null(why);
        }
        assert_int_equal(head_of(bad[0], 1, "GET", "/a b", true, NULL, &plan, &text, &why), -EINVAL);
        assert_int_equal(head_of(bad[0], 1, "GET", "/a\r\nX: y", true, NULL, &plan, &text, &why), -EINVAL);
        assert_int_equal(head_of(bad[0], 1, "GE T", "/", true, NULL, &plan, &text, &why), -EINVAL);
        assert_int_equal(head_of(bad[0], 1, "GET", "", true, NULL, &plan, &text, &why), -EINVAL);
}

static void test_head_forwarded_and_host(void **state)
{
        const struct forward_header h[] = {H("X-Forwarded-For", "1.2.3.4"), H("x-forwarded-for", "5.6.7.8"),
                                           H("X-Forwarded-Proto", "https")};
        struct forward_plan plan;
        const char *why = NULL;
        char *text = NULL;

        /* HTTP/1.0 without Host: upstream HTTP/1.1 needs one. The proto of a TLS front stays. */
        assert_int_equal(head_of(h, ELEMENTSOF(h), "GET", "/", false, "::1", &plan, &text, &why), 0);
        assert_string_equal(text, "GET / HTTP/1.1\r\n"
                                  "Host: 127.0.0.1:8000\r\n"
                                  "X-Forwarded-Proto: https\r\n"
                                  "X-Forwarded-For: 1.2.3.4, 5.6.7.8, ::1\r\n"
                                  "Connection: close\r\n"
                                  "\r\n");
        free(text);
}

static void test_head_connection_listed(void **state)
{
        const struct forward_header h[] = {H("Host", "h"),
                                           H("Connection", "keep-alive, X-Private ,foo"),
                                           H("X-Private", "secret"),
                                           H("Foo", "1"),
                                           H("TE", "trailers"),
                                           H("Proxy-Authorization", "Basic x"),
                                           H("Upgrade", "websocket"),
                                           H("X-Kept", "yes")};
        struct forward_plan plan;
        const char *why = NULL;
        char *text = NULL;

        /* Upgrade without "upgrade" in Connection is no upgrade: it is dropped. */
        assert_int_equal(head_of(h, ELEMENTSOF(h), "GET", "/", true, NULL, &plan, &text, &why), 0);
        assert_string_equal(text, "GET / HTTP/1.1\r\nHost: h\r\nX-Kept: yes\r\nX-Forwarded-Proto: http\r\n"
                                  "Connection: close\r\n\r\n");
        assert_false(plan.upgrade);
        free(text);
}

static void test_head_upgrade(void **state)
{
        const struct forward_header h[] = {H("Host", "h"), H("Connection", "keep-alive, Upgrade"),
                                           H("Upgrade", "websocket"), H("Sec-WebSocket-Key", "k==")};
        struct forward_plan plan;
        const char *why = NULL;
        char *text = NULL;

        assert_int_equal(head_of(h, ELEMENTSOF(h), "GET", "/ws", true, NULL, &plan, &text, &why), 0);
        assert_string_equal(text,
                            "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k==\r\n"
                            "X-Forwarded-Proto: http\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        assert_true(plan.upgrade);
        free(text);
        /* HTTP/1.0 cannot switch protocols (MHD refuses it too). */
        assert_int_equal(head_of(h, ELEMENTSOF(h), "GET", "/ws", false, NULL, &plan, &text, &why), 0);
        assert_false(plan.upgrade);
        free(text);
}

static void test_hop_by_hop(void **state)
{
        static const char *const hop[] = {"Connection",
                                          "KEEP-ALIVE",
                                          "proxy-connection",
                                          "TE",
                                          "Trailer",
                                          "transfer-encoding",
                                          "Upgrade",
                                          "Proxy-Authenticate",
                                          "proxy-authorization"};
        static const char *const kept[] = {"Host", "Content-Type", "Set-Cookie", "Tea", "Connectionx", ""};
        const struct forward_header resp[] = {H("Connection", "close, X-Hop"), H("X-Hop", "1")};

        for (size_t i = 0; i < ELEMENTSOF(hop); i++)
                assert_true(forward_header_is_hop_by_hop(hop[i]));
        for (size_t i = 0; i < ELEMENTSOF(kept); i++)
                assert_false(forward_header_is_hop_by_hop(kept[i]));
        assert_true(forward_connection_lists("a, b ,\tc", "B"));
        assert_true(forward_connection_lists("Upgrade", "upgrade"));
        assert_false(forward_connection_lists("upgrade-x", "upgrade"));
        assert_false(forward_connection_lists("", "upgrade"));
        assert_true(forward_response_header_dropped("Content-Length", NULL, 0));
        assert_true(forward_response_header_dropped("x-hop", resp, ELEMENTSOF(resp)));
        assert_false(forward_response_header_dropped("Set-Cookie", resp, ELEMENTSOF(resp)));
}

/* ---- responses ------------------------------------------------------------------- */

/* Feeds text whole (step 0) or in pieces of `step` bytes, then EOF when close is set. Returns
 * the first error or the bytes taken as HTTP. */
static ssize_t feed(struct forward_response *r, const char *text, size_t len, size_t step, bool close)
{
        size_t used = 0;

        for (size_t off = 0; off < len;) {
                size_t n = step ? (len - off < step ? len - off : step) : len - off;
                ssize_t k = forward_response_feed(r, text + off, n);

                if (k < 0)
                        return k;
                used += (size_t)k;
                if ((size_t)k < n)
                        return (ssize_t)used; /* the rest belongs to another protocol */
                off += n;
        }
        if (close) {
                ssize_t k = forward_response_feed(r, NULL, 0);

                if (k < 0)
                        return k;
        }
        return (ssize_t)used;
}

static const char *header(const struct forward_response *r, const char *name)
{
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcmp(r->headers[i].name, name) == 0)
                        return r->headers[i].value;
        return NULL;
}

static void body_is(const struct forward_response *r, const char *want)
{
        assert_int_equal(buf_avail(&r->body), strlen(want));
        assert_memory_equal(buf_head(&r->body), want, strlen(want));
}

static const size_t steps[] = {0, 1, 2, 7};

static void test_response_length(void **state)
{
        static const char text[] =
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Empty:\r\n"
                "X-Spaces:  a b  \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\n\r\nhello";

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                struct forward_response r;

                forward_response_init(&r, false);
                assert_int_equal(feed(&r, text, strlen(text), steps[i], false), strlen(text));
                assert_true(r.headers_done);
                assert_true(r.complete);
                assert_int_equal(r.status, 200);
                assert_true(r.has_length);
                assert_int_equal(r.content_length, 5);
                assert_int_equal(r.n_headers, 6);
                assert_string_equal(r.headers[0].name, "Content-Type");
                assert_string_equal(header(&r, "X-Empty"), "");
                assert_string_equal(header(&r, "X-Spaces"), "a b");
                assert_string_equal(r.headers[3].value, "a=1");
                assert_string_equal(r.headers[4].value, "b=2");
                body_is(&r, "hello");
                forward_response_done(&r);
        }
}

static void test_response_chunked_and_trailing_bytes(void **state)
{
        static const char text[] = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\n\r\n";

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                struct forward_response r;

                forward_response_init(&r, false);
                /* Bytes after the message are ignored (one request per upstream connection). */
                assert_int_equal(feed(&r, text, strlen(text), steps[i], false), strlen(text));
                assert_true(r.complete);
                assert_int_equal(r.status, 201);
                assert_false(r.has_length);
                body_is(&r, "hello world");
                forward_response_done(&r);
        }
}

static void test_response_until_eof(void **state)
{
        static const char text[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil eof";

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                struct forward_response r;

                forward_response_init(&r, false);
                assert_int_equal(feed(&r, text, strlen(text), steps[i], false), strlen(text));
                assert_true(r.headers_done);
                assert_false(r.complete);
                assert_false(r.has_length);
                assert_true(feed(&r, NULL, 0, 0, true) >= 0);
                assert_true(r.complete);
                body_is(&r, "until eof");
                forward_response_done(&r);
        }
}

static void test_response_no_body(void **state)
{
        struct forward_response r;
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n";
        static const char nc[] = "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n";
        static const char nm[] = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n";

        /* A HEAD answer announces a length but carries no body. */
        forward_response_init(&r, true);
        assert_int_equal(feed(&r, head, strlen(head), 0, false), strlen(head));
        assert_true(r.complete);
        assert_true(r.has_length);
        assert_int_equal(r.content_length, 12345);
        body_is(&r, "");
        forward_response_done(&r);

        forward_response_init(&r, false);
        assert_int_equal(feed(&r, nc, strlen(nc), 1, false), strlen(nc));
        assert_true(r.complete);
        assert_int_equal(r.status, 204);
        forward_response_done(&r);

        forward_response_init(&r, false);
        assert_int_equal(feed(&r, nm, strlen(nm), 0, false), strlen(nm));
        assert_true(r.complete);
        assert_int_equal(r.status, 304);
        assert_string_equal(header(&r, "ETag"), "\"x\"");
        forward_response_done(&r);
}

static void test_response_interim_skipped(void **state)
{
        static const char text[] =
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                struct forward_response r;

                forward_response_init(&r, false);
                assert_int_equal(feed(&r, text, strlen(text), steps[i], false), strlen(text));
                assert_int_equal(r.status, 200);
                assert_int_equal(r.n_headers, 1);
                assert_null(header(&r, "Link"));
                body_is(&r, "ok");
                forward_response_done(&r);
        }
}

static void test_response_upgrade_leftover(void **state)
{
        static const char head[] =
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: abc=\r\n\r\n";
        char text[sizeof(head) + 8];

        snprintf(text, sizeof(text), "%s\x81\x02hi", head);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                struct forward_response r;

                forward_response_init(&r, false);
                assert_int_equal(feed(&r, text, strlen(text), steps[i], false), strlen(head));
                assert_true(r.upgrade);
                assert_true(r.complete);
                assert_int_equal(r.status, 101);
                assert_string_equal(header(&r, "Upgrade"), "websocket");
                body_is(&r, "");
                forward_response_done(&r);
        }
}

static void test_response_broken(void **state)
{
        static const char *const bad[] = {
                "this is not http\r\n\r\n",
                "HTTP/1.1 2000 OK\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        };
        struct forward_response r;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                forward_response_init(&r, false);
                assert_int_equal(feed(&r, bad[i], strlen(bad[i]), 0, true), -EPROTO);
                assert_non_null(r.error);
                forward_response_done(&r);
        }
}

static void test_response_cut_short(void **state)
{
        static const char *const cut[] = {
                "",
                "HTTP/1.1 200 OK\r\nContent-Le",
                "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        };
        struct forward_response r;

        for (size_t i = 0; i < ELEMENTSOF(cut); i++) {
                forward_response_init(&r, false);
                assert_int_equal(feed(&r, cut[i], strlen(cut[i]), 0, true), -EPROTO);
                assert_false(r.complete);
                assert_non_null(r.error);
                forward_response_done(&r);
        }
}

static void test_response_header_limits(void **state)
{
        struct forward_response r;
        struct buf text = {0};

        /* More headers than we keep. */
        buf_printf(&text, "HTTP/1.1 200 OK\r\n");
        for (int i = 0; i < FORWARD_RESPONSE_HEADERS_MAX + 1; i++)
                buf_printf(&text, "X-%d: v\r\n", i);
        buf_printf(&text, "\r\n");
        forward_response_init(&r, false);
        assert_int_equal(feed(&r, (const char *)text.data, text.len, 0, false), -EPROTO);
        forward_response_done(&r);

        /* A head larger than http_parser's 80 KiB. */
        buf_reset(&text);
        buf_printf(&text, "HTTP/1.1 200 OK\r\nX-Big: ");
        for (int i = 0; i < 90 * 1024; i++)
                buf_append(&text, "a", 1);
        buf_printf(&text, "\r\n\r\n");
        forward_response_init(&r, false);
        assert_int_equal(feed(&r, (const char *)text.data, text.len, 4096, false), -EPROTO);
        forward_response_done(&r);
        buf_done(&text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_head_plain_get),
                cmocka_unit_test(test_head_body_framing),
                cmocka_unit_test(test_head_refused),
                cmocka_unit_test(test_head_forwarded_and_host),
                cmocka_unit_test(test_head_connection_listed),
                cmocka_unit_test(test_head_upgrade),
                cmocka_unit_test(test_hop_by_hop),
                cmocka_unit_test(test_response_length),
                cmocka_unit_test(test_response_chunked_and_trailing_bytes),
                cmocka_unit_test(test_response_until_eof),
                cmocka_unit_test(test_response_no_body),
                cmocka_unit_test(test_response_interim_skipped),
                cmocka_unit_test(test_response_upgrade_leftover),
                cmocka_unit_test(test_response_broken),
                cmocka_unit_test(test_response_cut_short),
                cmocka_unit_test(test_response_header_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
