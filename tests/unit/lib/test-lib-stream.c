/* libnestbox stream decoding (protocol.md §3.1, §3.4): envelopes fed in any
 * split, process events, end-of-stream errors, exit statuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../src/wire/connect.h"
#include "lib.h"

static void envelope(struct buf *b, uint8_t flags, const char *json)
{
        assert_int_equal(connect_envelope_append(b, flags, json, strlen(json)), 0);
}

/* A whole stream as envd sends it, fed one byte at a time: every envelope comes
 * out whole, in order, exactly once. */
static void test_envelopes_byte_by_byte(void **state)
{
        static const char *const msgs[] = {
                "{\"event\":{\"start\":{\"pid\":1234}}}",
                "{\"event\":{\"data\":{\"stdout\":\"aGVsbG8K\"}}}",
                "{\"event\":{\"keepalive\":{}}}",
                "{\"event\":{\"end\":{\"exitCode\":1,\"exited\":true,\"status\":\"exit status 1\"}}}",
        };
        struct buf wire = {0}, in = {0};
        unsigned got = 0;
        bool eos = false;

        for (size_t i = 0; i < ELEMENTSOF(msgs); i++)
                envelope(&wire, 0, msgs[i]);
        envelope(&wire, CONNECT_FLAG_END_STREAM, "{}");

        for (size_t i = 0; i < wire.len; i++) {
                struct lib_envelope env;
                nestbox_error err = {0};
                int r;

                assert_int_equal(buf_append(&in, wire.data + i, 1), 0);
                while ((r = lib_envelope_next(&in, &env, &err)) == 1) {
                        if (env.flags & CONNECT_FLAG_END_STREAM) {
                                assert_int_equal(env.len, 2);
                                assert_memory_equal(env.payload, "{}", 2);
                                assert_int_equal(lib_end_stream_parse(env.payload, env.len, &err), 0);
                                eos = true;
                                continue;
                        }
                        assert_true(got < ELEMENTSOF(msgs));
                        assert_int_equal(env.len, strlen(msgs[got]));
                        assert_memory_equal(env.payload, msgs[got], env.len);
                        got++;
                }
                assert_int_equal(r, 0);
        }
        assert_int_equal(got, ELEMENTSOF(msgs));
        assert_true(eos);
        assert_int_equal(buf_avail(&in), 0);
        buf_done(&wire);
        buf_done(&in);
}

static void test_envelope_rejects_compressed_and_unknown_flags(void **state)
{
        static const uint8_t compressed[] = {0x01, 0, 0, 0, 2, '{', '}'};
        static const uint8_t unknown[] = {0x80, 0, 0, 0, 2, '{', '}'};
        static const uint8_t huge[] = {0x00, 0x7f, 0xff, 0xff, 0xff};
        struct lib_envelope env;
        nestbox_error err = {0};
        struct buf b = {0};

        assert_int_equal(buf_append(&b, compressed, sizeof(compressed)), 0);
        assert_int_equal(lib_envelope_next(&b, &env, &err), -EPROTO);
        assert_int_equal(err.code, -EPROTO);
        assert_non_null(strstr(err.message, "received unsupported compressed output"));
        buf_reset(&b);
        assert_int_equal(buf_append(&b, unknown, sizeof(unknown)), 0);
        assert_int_equal(lib_envelope_next(&b, &env, &err), -EPROTO);
        buf_reset(&b);
        assert_int_equal(buf_append(&b, huge, sizeof(huge)), 0);
        assert_int_equal(lib_envelope_next(&b, &env, &err), -EPROTO);
        buf_reset(&b);
        /* A header alone is not yet an envelope. */
        assert_int_equal(buf_append(&b, "\0\0\0\0", 4), 0);
        assert_int_equal(lib_envelope_next(&b, &env, &err), 0);
        /* An empty payload is fine. */
        assert_int_equal(buf_append(&b, "\0", 1), 0);
        assert_int_equal(lib_envelope_next(&b, &env, &err), 1);
        assert_int_equal(env.len, 0);
        buf_done(&b);
}

static void parse_ok(const char *json, struct lib_process_event *ev)
{
        nestbox_error err = {0};

        assert_int_equal(lib_process_event_parse(json, strlen(json), ev, &err), 0);
}

static void test_process_events(void **state)
{
        struct lib_process_event ev;

        parse_ok("{\"event\":{\"start\":{\"pid\":1234}}}", &ev);
        assert_int_equal(ev.kind, LIB_EVENT_START);
        assert_int_equal(ev.pid, 1234);
        lib_process_event_done(&ev);

        /* uint32 may come as a decimal string too (protobuf JSON) */
        parse_ok("{\"event\":{\"start\":{\"pid\":\"77\"}}}", &ev);
        assert_int_equal(ev.pid, 77);
        lib_process_event_done(&ev);

        parse_ok("{\"event\":{\"data\":{\"stdout\":\"aGVsbG8K\"}}}", &ev);
        assert_int_equal(ev.kind, LIB_EVENT_DATA);
        assert_int_equal(ev.stream, NESTBOX_STDOUT);
        assert_int_equal(ev.data.len, 6);
        assert_memory_equal(ev.data.data, "hello\n", 6);
        lib_process_event_done(&ev);

        parse_ok("{\"event\":{\"data\":{\"stderr\":\"AP8=\"}}}", &ev);
        assert_int_equal(ev.stream, NESTBOX_STDERR);
        assert_int_equal(ev.data.len, 2);
        assert_memory_equal(ev.data.data, "\x00\xff", 2);
        lib_process_event_done(&ev);

        /* URL-safe alphabet without padding is accepted (§3.2) */
        parse_ok("{\"event\":{\"data\":{\"pty\":\"_-8\"}}}", &ev);
        assert_int_equal(ev.stream, NESTBOX_PTY);
        assert_int_equal(ev.data.len, 2);
        assert_memory_equal(ev.data.data, "\xff\xef", 2);
        lib_process_event_done(&ev);

        /* success: exitCode omitted (proto3 zero value) */
        parse_ok("{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}", &ev);
        assert_int_equal(ev.kind, LIB_EVENT_END);
        assert_int_equal(ev.exit_code, 0);
        assert_true(ev.exited);
        assert_string_equal(ev.status, "exit status 0");
        assert_null(ev.error);
        lib_process_event_done(&ev);

        parse_ok("{\"event\":{\"end\":{\"exitCode\":-1,\"status\":\"signal: killed\",\"error\":\"signal: "
                 "killed\"}}}",
                 &ev);
        assert_int_equal(ev.exit_code, -1);
        assert_false(ev.exited);
        assert_string_equal(ev.error, "signal: killed");
        lib_process_event_done(&ev);

        /* snake_case names are accepted too */
        parse_ok("{\"event\":{\"end\":{\"exit_code\":3,\"exited\":true}}}", &ev);
        assert_int_equal(ev.exit_code, 3);
        lib_process_event_done(&ev);

        parse_ok("{\"event\":{\"keepalive\":{}}}", &ev);
        assert_int_equal(ev.kind, LIB_EVENT_KEEPALIVE);
        lib_process_event_done(&ev);

        /* unknown members are skipped, unknown keys ignored */
        parse_ok("{\"event\":{\"future\":{}},\"extra\":1}", &ev);
        assert_int_equal(ev.kind, LIB_EVENT_OTHER);
        lib_process_event_done(&ev);
}

static void test_process_event_errors(void **state)
{
        static const char *const bad[] = {
                "",
                "[]",
                "{}",
                "{\"event\":1}",
                "{\"event\":{\"start\":{\"pid\":-1}}}",
                "{\"event\":{\"start\":{\"pid\":\"x\"}}}",
                "{\"event\":{\"start\":{\"pid\":4294967296}}}",
                "{\"event\":{\"data\":{\"stdout\":\"a\"}}}",
                "{\"event\":{\"data\":{\"stdout\":5}}}",
                "{\"event\":{\"end\":{\"exitCode\":1.5}}}",
                "{\"event\":{\"end\":[]}}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct lib_process_event ev = {0};
                nestbox_error err = {0};

                assert_int_equal(lib_process_event_parse(bad[i], strlen(bad[i]), &ev, &err), -EPROTO);
                assert_int_equal(err.code, -EPROTO);
                assert_true(strlen(err.message) > 0);
        }
}

static void test_end_stream(void **state)
{
        static const struct {
                const char *json;
                int code;
                const char *prefix;
        } cases[] = {
                {"{}", 0, NULL},
                {"{\"metadata\":{\"k\":[\"v\"]}}", 0, NULL},
                {"{\"error\":null}", 0, NULL},
                {"{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"timed out\"}}", -ETIMEDOUT,
                 "[deadline_exceeded] timed out: This error is likely due to exceeding 'timeoutMs'"},
                {"{\"error\":{\"code\":\"not_found\",\"message\":\"process with pid 9 not found\"}}",
                 -ENOENT, "[not_found] process with pid 9 not found"},
                {"{\"error\":{\"code\":\"unauthenticated\",\"message\":\"invalid username: 'x'\"}}", -EACCES,
                 "[unauthenticated] invalid username: 'x'"},
                {"{\"error\":{\"code\":\"internal\"}}", -EIO, "13: [internal]"},
                {"{\"error\":{\"code\":\"what\",\"message\":\"m\"}}", -EIO, "2: [unknown] m"},
                {"nope", -EPROTO, "protocol error"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                nestbox_error err = {0};

                assert_int_equal(lib_end_stream_parse(cases[i].json, strlen(cases[i].json), &err),
                                 cases[i].code);
                if (cases[i].prefix)
                        assert_memory_equal(err.message, cases[i].prefix, strlen(cases[i].prefix));
        }
}

static void test_exit_codes(void **state)
{
        assert_int_equal(lib_exit_code(true, 0, "exit status 0"), 0);
        assert_int_equal(lib_exit_code(true, 3, "exit status 3"), 3);
        assert_int_equal(lib_exit_code(false, -1, "signal: killed"), 137);
        assert_int_equal(lib_exit_code(false, -1, "signal: terminated"), 143);
        assert_int_equal(lib_exit_code(false, -1, "signal: hangup"), 129);
        assert_int_equal(lib_exit_code(false, -1, "signal: segmentation fault (core dumped)"), 139);
        assert_int_equal(lib_exit_code(false, -1, "signal: window changed"), -1);
        assert_int_equal(lib_exit_code(false, -1, "signal: killedx"), -1);
        assert_int_equal(lib_exit_code(false, -1, NULL), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_envelopes_byte_by_byte),
                cmocka_unit_test(test_envelope_rejects_compressed_and_unknown_flags),
                cmocka_unit_test(test_process_events),
                cmocka_unit_test(test_process_event_errors),
                cmocka_unit_test(test_end_stream),
                cmocka_unit_test(test_exit_codes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
