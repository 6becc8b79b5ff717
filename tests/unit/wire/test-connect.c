/* Connect pieces: code tables (§3.1), envelopes, end-of-stream and error bodies,
 * Content-Type classification, codec dispatch. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connect.h"
#include "process.pb-c.h"

static void test_code_names_and_statuses(void **state)
{
        static const struct {
                enum connect_code code;
                const char *name;
                int status;
        } table[] = {
                {CONNECT_OK, "ok", 200},
                {CONNECT_CANCELED, "canceled", 499},
                {CONNECT_UNKNOWN, "unknown", 500},
                {CONNECT_INVALID_ARGUMENT, "invalid_argument", 400},
                {CONNECT_DEADLINE_EXCEEDED, "deadline_exceeded", 504},
                {CONNECT_NOT_FOUND, "not_found", 404},
                {CONNECT_ALREADY_EXISTS, "already_exists", 409},
                {CONNECT_PERMISSION_DENIED, "permission_denied", 403},
                {CONNECT_RESOURCE_EXHAUSTED, "resource_exhausted", 429},
                {CONNECT_FAILED_PRECONDITION, "failed_precondition", 400},
                {CONNECT_ABORTED, "aborted", 409},
                {CONNECT_OUT_OF_RANGE, "out_of_range", 400},
                {CONNECT_UNIMPLEMENTED, "unimplemented", 501},
                {CONNECT_INTERNAL, "internal", 500},
                {CONNECT_UNAVAILABLE, "unavailable", 503},
                {CONNECT_DATA_LOSS, "data_loss", 500},
                {CONNECT_UNAUTHENTICATED, "unauthenticated", 401},
        };

        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                enum connect_code back;

                assert_string_equal(connect_code_name(table[i].code), table[i].name);
                assert_int_equal(connect_code_http_status(table[i].code), table[i].status);
                assert_int_equal(connect_code_from_name(table[i].name, &back), 0);
                assert_int_equal(back, table[i].code);
        }
        assert_string_equal(connect_code_name((enum connect_code)99), "unknown");
        assert_int_equal(connect_code_http_status((enum connect_code) - 1), 500);
        {
                enum connect_code c = CONNECT_OK;
                assert_int_equal(connect_code_from_name("NOT_FOUND", &c), -EINVAL);
                assert_int_equal(connect_code_from_name(NULL, &c), -EINVAL);
        }
}

static void test_status_fallback(void **state)
{
        assert_int_equal(connect_code_from_http_status(400), CONNECT_INTERNAL);
        assert_int_equal(connect_code_from_http_status(401), CONNECT_UNAUTHENTICATED);
        assert_int_equal(connect_code_from_http_status(403), CONNECT_PERMISSION_DENIED);
        assert_int_equal(connect_code_from_http_status(404), CONNECT_UNIMPLEMENTED);
        assert_int_equal(connect_code_from_http_status(429), CONNECT_UNAVAILABLE);
        assert_int_equal(connect_code_from_http_status(502), CONNECT_UNAVAILABLE);
        assert_int_equal(connect_code_from_http_status(503), CONNECT_UNAVAILABLE);
        assert_int_equal(connect_code_from_http_status(504), CONNECT_UNAVAILABLE);
        assert_int_equal(connect_code_from_http_status(418), CONNECT_UNKNOWN);
        assert_int_equal(connect_code_from_http_status(500), CONNECT_UNKNOWN);
}

static void test_errno_mapping(void **state)
{
        assert_int_equal(connect_code_from_errno(0), CONNECT_OK);
        assert_int_equal(connect_code_from_errno(-ENOENT), CONNECT_NOT_FOUND);
        assert_int_equal(connect_code_from_errno(-EINVAL), CONNECT_INVALID_ARGUMENT);
        assert_int_equal(connect_code_from_errno(-ENOTDIR), CONNECT_INVALID_ARGUMENT);
        assert_int_equal(connect_code_from_errno(-EISDIR), CONNECT_INVALID_ARGUMENT);
        assert_int_equal(connect_code_from_errno(-EEXIST), CONNECT_ALREADY_EXISTS);
        assert_int_equal(connect_code_from_errno(-EACCES), CONNECT_PERMISSION_DENIED);
        assert_int_equal(connect_code_from_errno(-EPERM), CONNECT_PERMISSION_DENIED);
        assert_int_equal(connect_code_from_errno(-ENOSPC), CONNECT_RESOURCE_EXHAUSTED);
        assert_int_equal(connect_code_from_errno(-ETIMEDOUT), CONNECT_DEADLINE_EXCEEDED);
        assert_int_equal(connect_code_from_errno(-ENOTSUP), CONNECT_UNIMPLEMENTED);
        assert_int_equal(connect_code_from_errno(-EOPNOTSUPP), CONNECT_UNIMPLEMENTED);
        assert_int_equal(connect_code_from_errno(-EIO), CONNECT_INTERNAL);
        assert_int_equal(connect_code_from_errno(-ENOMEM), CONNECT_INTERNAL);
}

static void test_envelope_round_trip(void **state)
{
        struct buf b = {0};
        const uint8_t *payload;
        uint8_t flags;
        uint32_t len;

        assert_int_equal(connect_envelope_append(&b, 0, "{\"a\":1}", 7), 0);
        assert_int_equal(b.len, 12);
        assert_memory_equal(b.data, "\x00\x00\x00\x00\x07{\"a\":1}", 12);
        /* Every strict prefix needs more bytes. */
        for (size_t n = 0; n < 12; n++)
                assert_int_equal(connect_envelope_parse(b.data, n, &flags, &payload, &len), 0);
        assert_int_equal(connect_envelope_parse(b.data, b.len, &flags, &payload, &len), 1);
        assert_int_equal(flags, 0);
        assert_int_equal(len, 7);
        assert_ptr_equal(payload, b.data + 5);
        /* An empty payload is a whole envelope. */
        buf_reset(&b);
        assert_int_equal(connect_envelope_append(&b, CONNECT_FLAG_END_STREAM, NULL, 0), 0);
        assert_int_equal(connect_envelope_parse(b.data, b.len, &flags, &payload, &len), 1);
        assert_int_equal(flags, CONNECT_FLAG_END_STREAM);
        assert_int_equal(len, 0);
        buf_done(&b);
}

static void test_envelope_bad(void **state)
{
        const uint8_t *payload;
        uint8_t flags;
        uint32_t len;
        struct buf b = {0};

        /* Compressed flag: rejected as soon as the header is there. */
        assert_int_equal(
                connect_envelope_parse((const uint8_t *)"\x01\x00\x00\x00\x05", 5, &flags, &payload, &len),
                -EBADMSG);
        assert_int_equal(
                connect_envelope_parse((const uint8_t *)"\x03\x00\x00\x00\x00", 5, &flags, &payload, &len),
                -EBADMSG);
        assert_int_equal(
                connect_envelope_parse((const uint8_t *)"\x80\x00\x00\x00\x00", 5, &flags, &payload, &len),
                -EBADMSG);
        /* 16 MiB is the limit; one more byte is refused without waiting for it. */
        assert_int_equal(
                connect_envelope_parse((const uint8_t *)"\x00\x01\x00\x00\x00", 5, &flags, &payload, &len),
                0);
        assert_int_equal(
                connect_envelope_parse((const uint8_t *)"\x00\x01\x00\x00\x01", 5, &flags, &payload, &len),
                -EBADMSG);
        assert_int_equal(
                connect_envelope_parse((const uint8_t *)"\x00\xff\xff\xff\xff", 5, &flags, &payload, &len),
                -EBADMSG);
        assert_int_equal(connect_envelope_append(&b, 0, "", (size_t)CONNECT_ENVELOPE_MAX + 1), -EMSGSIZE);
        assert_int_equal(b.len, 0);
        buf_done(&b);
}

static void check_end_stream(enum connect_code code, const char *message, const char *want_json)
{
        struct buf b = {0};
        size_t n = strlen(want_json);

        assert_int_equal(connect_end_stream_append(&b, code, message), 0);
        assert_int_equal(b.len, 5 + n);
        assert_int_equal(b.data[0], CONNECT_FLAG_END_STREAM);
        assert_int_equal(((uint32_t)b.data[1] << 24 | b.data[2] << 16 | b.data[3] << 8 | b.data[4]), n);
        assert_memory_equal(b.data + 5, want_json, n);
        buf_done(&b);
}

static void test_end_stream(void **state)
{
        check_end_stream(CONNECT_OK, NULL, "{}");
        check_end_stream(CONNECT_OK, "ignored", "{}");
        check_end_stream(
                CONNECT_DEADLINE_EXCEEDED, "context deadline exceeded",
                "{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"context deadline exceeded\"}}");
        check_end_stream(
                CONNECT_NOT_FOUND, "process with pid 42 not found",
                "{\"error\":{\"code\":\"not_found\",\"message\":\"process with pid 42 not found\"}}");
        check_end_stream(CONNECT_INTERNAL, NULL, "{\"error\":{\"code\":\"internal\"}}");
        /* Quotes, control characters and invalid UTF-8 in a message stay valid JSON. */
        check_end_stream(CONNECT_INVALID_ARGUMENT, "path '/a\"b\n\xff' bad",
                         "{\"error\":{\"code\":\"invalid_argument\",\"message\":\"path "
                         "'/a\\\"b\\n\xef\xbf\xbd' bad\"}}");
}

static void test_unary_error(void **state)
{
        struct buf b = {0};

        assert_int_equal(connect_unary_error_json(&b, CONNECT_NOT_FOUND, "file '/x' not found"), 0);
        assert_int_equal(b.len, strlen("{\"code\":\"not_found\",\"message\":\"file '/x' not found\"}"));
        assert_memory_equal(b.data, "{\"code\":\"not_found\",\"message\":\"file '/x' not found\"}", b.len);
        buf_reset(&b);
        assert_int_equal(connect_unary_error_json(&b, CONNECT_UNIMPLEMENTED, NULL), 0);
        assert_memory_equal(b.data, "{\"code\":\"unimplemented\"}", b.len);
        buf_reset(&b);
        assert_int_equal(connect_unary_error_json(&b, CONNECT_OK, "x"), -EINVAL);
        assert_int_equal(b.len, 0);
        buf_done(&b);
}

static void test_content_type(void **state)
{
        static const struct {
                const char *ct;
                int r;
                bool streaming;
                enum connect_codec codec;
        } cases[] = {
                {"application/json", 0, false, CONNECT_CODEC_JSON},
                {"application/json; charset=utf-8", 0, false, CONNECT_CODEC_JSON},
                {"application/json;charset=UTF-8", 0, false, CONNECT_CODEC_JSON},
                {"Application/JSON ; charset=\"utf-8\"", 0, false, CONNECT_CODEC_JSON},
                {"application/proto", 0, false, CONNECT_CODEC_PROTO},
                {"application/connect+json", 0, true, CONNECT_CODEC_JSON},
                {"application/connect+json; charset=utf-8", 0, true, CONNECT_CODEC_JSON},
                {"application/connect+proto", 0, true, CONNECT_CODEC_PROTO},
                {"application/grpc", -EINVAL, false, 0},
                {"application/grpc-web+proto", -EINVAL, false, 0},
                {"text/plain", -EINVAL, false, 0},
                {"application/jsonx", -EINVAL, false, 0},
                {"application/json; charset=latin1", -EINVAL, false, 0},
                {"application/json; foo=bar", -EINVAL, false, 0},
                {"application/json; charset=utf-8; x=y", -EINVAL, false, 0},
                {"", -EINVAL, false, 0},
        };
        bool streaming;
        enum connect_codec codec;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int r = connect_parse_content_type(cases[i].ct, &streaming, &codec);

                assert_int_equal(r, cases[i].r);
                if (r == 0) {
                        assert_int_equal(streaming, cases[i].streaming);
                        assert_int_equal(codec, cases[i].codec);
                }
        }
        assert_int_equal(connect_parse_content_type(NULL, &streaming, &codec), -EINVAL);
        assert_string_equal(connect_content_type(true, CONNECT_CODEC_JSON), "application/connect+json");
        assert_string_equal(connect_content_type(false, CONNECT_CODEC_PROTO), "application/proto");
}

static void test_timeout(void **state)
{
        uint64_t ms = 0;

        assert_int_equal(connect_parse_timeout_ms("60000", &ms), 0);
        assert_int_equal(ms, 60000);
        assert_int_equal(connect_parse_timeout_ms("0", &ms), 0);
        assert_int_equal(ms, 0);
        assert_int_equal(connect_parse_timeout_ms("9999999999", &ms), 0);
        assert_int_equal(ms, 9999999999ULL);
        assert_int_equal(connect_parse_timeout_ms("99999999999", &ms), -EINVAL);
        assert_int_equal(connect_parse_timeout_ms("", &ms), -EINVAL);
        assert_int_equal(connect_parse_timeout_ms("-1", &ms), -EINVAL);
        assert_int_equal(connect_parse_timeout_ms("+1", &ms), -EINVAL);
        assert_int_equal(connect_parse_timeout_ms(" 1", &ms), -EINVAL);
        assert_int_equal(connect_parse_timeout_ms("1s", &ms), -EINVAL);
        assert_int_equal(connect_parse_timeout_ms(NULL, &ms), -EINVAL);
}

static void test_codecs_agree(void **state)
{
        static const char json[] = "{\"process\":{\"pid\":42},\"signal\":\"SIGNAL_SIGKILL\"}";
        struct nb_error err = {0};
        ProtobufCMessage *m = NULL, *m2 = NULL;
        struct buf bin = {0}, out = {0};
        Process__SendSignalRequest *req;

        assert_int_equal(connect_message_decode(CONNECT_CODEC_JSON,
                                                &process__send_signal_request__descriptor,
                                                (const uint8_t *)json, strlen(json), &m, &err),
                         0);
        assert_int_equal(connect_message_encode(CONNECT_CODEC_PROTO, m, &bin, &err), 0);
        assert_int_equal(connect_message_decode(CONNECT_CODEC_PROTO,
                                                &process__send_signal_request__descriptor, bin.data, bin.len,
                                                &m2, &err),
                         0);
        req = (Process__SendSignalRequest *)m2;
        assert_int_equal(req->process->selector_case, PROCESS__PROCESS_SELECTOR__SELECTOR_PID);
        assert_int_equal(req->process->pid, 42);
        assert_true(req->has_signal);
        assert_int_equal(req->signal, PROCESS__SIGNAL__SIGNAL_SIGKILL);
        assert_int_equal(connect_message_encode(CONNECT_CODEC_JSON, m2, &out, &err), 0);
        assert_int_equal(out.len, strlen(json));
        assert_memory_equal(out.data, json, out.len);
        protobuf_c_message_free_unpacked(m, NULL);
        protobuf_c_message_free_unpacked(m2, NULL);
        m = NULL;
        /* Garbage in either codec is a clean error. */
        assert_int_equal(connect_message_decode(CONNECT_CODEC_PROTO,
                                                &process__send_signal_request__descriptor,
                                                (const uint8_t *)"\xff\xff\xff", 3, &m, &err),
                         -EINVAL);
        assert_null(m);
        assert_int_equal(connect_message_decode(CONNECT_CODEC_JSON,
                                                &process__send_signal_request__descriptor,
                                                (const uint8_t *)"{", 1, &m, &err),
                         -EINVAL);
        assert_null(m);
        buf_done(&bin);
        buf_done(&out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_code_names_and_statuses),
                cmocka_unit_test(test_status_fallback),
                cmocka_unit_test(test_errno_mapping),
                cmocka_unit_test(test_envelope_round_trip),
                cmocka_unit_test(test_envelope_bad),
                cmocka_unit_test(test_end_stream),
                cmocka_unit_test(test_unary_error),
                cmocka_unit_test(test_content_type),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_codecs_agree),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
