/* libnestbox error mapping: the control API (SDK handleApiError, protocol.md
 * §2.2), Connect codes (handleRpcError, §3.8), unary RPC error bodies and
 * their status fallback (§3.1), transport failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib.h"

static void api(long status, const char *body, int code, const char *message)
{
        nestbox_error err = {0};

        assert_int_equal(lib_error_from_api(status, body, body ? strlen(body) : 0, &err), code);
        assert_int_equal(err.code, code);
        assert_int_equal(err.http_status, status);
        assert_string_equal(err.message, message);
}

static void test_api_errors(void **state)
{
        api(401, "{\"code\":401,\"message\":\"Invalid API key\"}", -EACCES,
            "Unauthorized, please check your credentials. - Invalid API key");
        api(401, NULL, -EACCES, "Unauthorized, please check your credentials.");
        api(429, "{\"code\":429,\"message\":\"slow down\"}", -EAGAIN,
            "Rate limit exceeded, please try again later - slow down");
        api(503, "{\"code\":503,\"message\":\"busy\"}", -EBUSY,
            "Service temporarily unavailable, please retry - busy");
        api(404, "{\"code\":404,\"message\":\"template 'x' not found\"}", -ENOENT,
            "404: template 'x' not found");
        api(400, "{\"code\":400,\"message\":\"bad\"}", -EINVAL, "400: bad");
        api(409, "{\"code\":409,\"message\":\"paused\"}", -EEXIST, "409: paused");
        /* no JSON message: the raw text, else the status text */
        api(500, "oops", -EIO, "500: oops");
        api(500, "", -EIO, "500: Internal Server Error");
        api(502, "{\"sandboxId\":\"a\",\"code\":502}", -ETIMEDOUT,
            "502: {\"sandboxId\":\"a\",\"code\":502}");
        api(418, NULL, -EIO, "418: ");
}

static void rpc(const char *code, const char *msg, int want, const char *prefix)
{
        nestbox_error err = {0};

        assert_int_equal(lib_error_from_connect(code, msg, 200, &err), want);
        assert_int_equal(err.code, want);
        assert_memory_equal(err.message, prefix, strlen(prefix));
}

static void test_connect_errors(void **state)
{
        rpc("invalid_argument", "cwd '/x' does not exist", -EINVAL,
            "[invalid_argument] cwd '/x' does not exist");
        rpc("unauthenticated", "invalid username: 'bob'", -EACCES,
            "[unauthenticated] invalid username: 'bob'");
        rpc("not_found", "process with pid 4 not found", -ENOENT,
            "[not_found] process with pid 4 not found");
        rpc("resource_exhausted", "m", -EAGAIN,
            "[resource_exhausted] m: Rate limit exceeded, please try again later.");
        rpc("unavailable", "m", -ETIMEDOUT, "[unavailable] m: This error is likely due to sandbox timeout.");
        rpc("canceled", "m", -ETIMEDOUT,
            "[canceled] m: This error is likely due to exceeding 'requestTimeoutMs'.");
        rpc("deadline_exceeded", NULL, -ETIMEDOUT,
            "[deadline_exceeded]: This error is likely due to exceeding");
        rpc("permission_denied", "m", -EPERM, "7: [permission_denied] m");
        rpc("already_exists", "m", -EEXIST, "6: [already_exists] m");
        rpc("unimplemented", "m", -ENOTSUP, "12: [unimplemented] m");
        rpc("internal", "m", -EIO, "13: [internal] m");
        rpc("data_loss", "m", -EIO, "15: [data_loss] m");
        rpc("nonsense", "m", -EIO, "2: [unknown] m");
        rpc(NULL, NULL, -EIO, "2: [unknown]");
}

static void unary(long status, const char *ct, const char *body, int want, const char *prefix)
{
        nestbox_error err = {0};

        assert_int_equal(lib_rpc_error(status, ct, body, body ? strlen(body) : 0, &err), want);
        assert_int_equal(err.http_status, status);
        assert_memory_equal(err.message, prefix, strlen(prefix));
}

static void test_unary_errors(void **state)
{
        /* the body's string code wins over the status */
        unary(404, "application/json",
              "{\"code\":\"not_found\",\"message\":\"process with pid 1 not found\"}", -ENOENT,
              "[not_found] process with pid 1 not found");
        unary(500, "application/json; charset=utf-8", "{\"code\":\"internal\",\"message\":\"x\"}", -EIO,
              "13: [internal] x");
        /* envd's own {"code":401,...}: no string code -> status fallback, the message kept */
        unary(401, "application/json", "{\"code\":401,\"message\":\"unauthorized access\"}", -EACCES,
              "[unauthenticated] unauthorized access");
        /* the router's 502 for a dead sandbox -> unavailable -> sandbox timeout wording */
        unary(502, "application/json",
              "{\"sandboxId\":\"a\",\"message\":\"The sandbox was not found\",\"code\":502}", -ETIMEDOUT,
              "[unavailable] The sandbox was not found: This error is likely due to sandbox timeout");
        /* no JSON content type: "HTTP <status>" only */
        unary(404, "text/plain", "{\"code\":\"not_found\"}", -ENOTSUP, "12: [unimplemented] HTTP 404");
        unary(400, NULL, NULL, -EIO, "13: [internal] HTTP 400");
        unary(403, NULL, NULL, -EPERM, "7: [permission_denied] HTTP 403");
        unary(429, NULL, NULL, -ETIMEDOUT,
              "[unavailable] HTTP 429: This error is likely due to sandbox timeout");
}

static void test_status_fallback_table(void **state)
{
        static const struct {
                long status;
                const char *code;
        } table[] = {
                {400, "internal"},      {401, "unauthenticated"}, {403, "permission_denied"},
                {404, "unimplemented"}, {429, "unavailable"},     {502, "unavailable"},
                {503, "unavailable"},   {504, "unavailable"},     {500, "unknown"},
                {418, "unknown"},
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                assert_string_equal(lib_connect_code_from_http_status(table[i].status), table[i].code);
}

static void test_curl_errors(void **state)
{
        nestbox_error err = {0};

        assert_int_equal(lib_error_from_curl(CURLE_COULDNT_CONNECT, "Failed to connect to 127.0.0.1 port 1",
                                             "http://127.0.0.1:1/v2/sandboxes", &err),
                         -ECONNREFUSED);
        assert_int_equal(err.http_status, 0);
        assert_string_equal(
                err.message,
                "cannot reach http://127.0.0.1:1/v2/sandboxes: Failed to connect to 127.0.0.1 port 1");
        assert_int_equal(lib_error_from_curl(CURLE_COULDNT_RESOLVE_HOST, "", "https://x", &err),
                         -EHOSTUNREACH);
        assert_non_null(strstr(err.message, "https://x"));
        assert_int_equal(lib_error_from_curl(CURLE_OPERATION_TIMEDOUT, NULL, "u", &err), -ETIMEDOUT);
        assert_int_equal(lib_error_from_curl(CURLE_RECV_ERROR, NULL, "u", &err), -EIO);
}

static void test_null_error_is_fine(void **state)
{
        assert_int_equal(lib_error_set(NULL, -EINVAL, 400, "x %d", 1), -EINVAL);
        assert_int_equal(lib_error_from_api(404, "{}", 2, NULL), -ENOENT);
        assert_int_equal(lib_error_from_connect("not_found", "m", 200, NULL), -ENOENT);
}

static void test_long_messages_truncate(void **state)
{
        char body[1024];
        nestbox_error err = {0};

        /* a JSON message is used whole, then cut to the fixed buffer */
        memcpy(body, "{\"message\":\"", 12);
        memset(body + 12, 'x', 900);
        memcpy(body + 912, "\"}", 3);
        assert_int_equal(lib_error_from_api(500, body, strlen(body), &err), -EIO);
        assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
        /* a raw body is quoted only in part */
        memset(body, 'y', sizeof(body) - 1);
        body[sizeof(body) - 1] = '\0';
        assert_int_equal(lib_error_from_api(500, body, strlen(body), &err), -EIO);
        assert_int_equal(strlen(err.message), strlen("500: ") + 199);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_api_errors),
                cmocka_unit_test(test_connect_errors),
                cmocka_unit_test(test_unary_errors),
                cmocka_unit_test(test_status_fallback_table),
                cmocka_unit_test(test_curl_errors),
                cmocka_unit_test(test_null_error_is_fine),
                cmocka_unit_test(test_long_messages_truncate),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
