/* base64: RFC 4648 vectors, both alphabets, optional padding, bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

static const struct {
        const char *plain, *encoded;
} rfc4648[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
        {"hello\n", "aGVsbG8K"},
};

static void test_encode_vectors(void **state)
{
        for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
                struct buf b = {0};

                assert_int_equal(
                        base64_encode((const uint8_t *)rfc4648[i].plain, strlen(rfc4648[i].plain), &b), 0);
                assert_int_equal(b.len, strlen(rfc4648[i].encoded));
                assert_memory_equal(b.data ? (const char *)b.data : "", rfc4648[i].encoded, b.len);
                buf_done(&b);
        }
}

static void check_decode(const char *in, const void *want, size_t want_len)
{
        struct buf b = {0};

        assert_int_equal(base64_decode(in, strlen(in), &b), 0);
        assert_int_equal(b.len, want_len);
        if (want_len)
                assert_memory_equal(b.data, want, want_len);
        buf_done(&b);
}

static void test_decode_vectors(void **state)
{
        for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++)
                check_decode(rfc4648[i].encoded, rfc4648[i].plain, strlen(rfc4648[i].plain));
}

static void test_decode_lenient(void **state)
{
        /* Unpadded forms. */
        check_decode("Zg", "f", 1);
        check_decode("Zm8", "fo", 2);
        check_decode("Zm9vYg", "foob", 4);
        /* URL-safe alphabet: 0xfb 0xff 0xbf is "+/+/" standard, "-_-_" URL-safe. */
        check_decode("-_-_", "\xfb\xff\xbf", 3);
        check_decode("+/+/", "\xfb\xff\xbf", 3);
        check_decode("-_8", "\xfb\xff", 2);
        check_decode("-_8=", "\xfb\xff", 2);
}

static void test_decode_invalid(void **state)
{
        static const char *bad[] = {
                "Z",        /* 4k+1 characters */
                "Zm9vY",    /* 4k+1 */
                "Zg=",      /* padding that does not complete a group */
                "Zg===",    /* too much padding */
                "Z===",     /* padding with one data char */
                "Zm 9v",    /* whitespace */
                "Zm9v\n",   /* newline */
                "Zm9*",     /* bad char */
                "Zg==Zg==", /* padding in the middle */
                "=Zm9",     /* leading padding */
                "====",     /* only padding */
                "Zm\x80v",  /* high byte */
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct buf b = {0};

                buf_append(&b, "keep", 4);
                assert_int_equal(base64_decode(bad[i], strlen(bad[i]), &b), -EINVAL);
                /* The output buffer is untouched on error. */
                assert_int_equal(b.len, 4);
                assert_memory_equal(b.data, "keep", 4);
                buf_done(&b);
        }
}

static void test_round_trip_all_lengths(void **state)
{
        uint8_t data[300];

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 151 + 7);
        for (size_t n = 0; n <= sizeof(data); n++) {
                struct buf enc = {0}, dec = {0};

                assert_int_equal(base64_encode(data, n, &enc), 0);
                assert_int_equal(enc.len, (n + 2) / 3 * 4);
                assert_int_equal(base64_decode((const char *)enc.data, enc.len, &dec), 0);
                assert_int_equal(dec.len, n);
                if (n)
                        assert_memory_equal(dec.data, data, n);
                buf_done(&enc);
                buf_done(&dec);
        }
}

static void test_appends_after_consumed_prefix(void **state)
{
        struct buf b = {0};

        /* A consumed prefix makes buf_reserve() compact: results must still land right. */
        buf_append(&b, "xxxxxxxxxx", 10);
        buf_consume(&b, 8);
        assert_int_equal(base64_decode("Zm9vYmFy", 8, &b), 0);
        assert_int_equal(buf_avail(&b), 8);
        assert_memory_equal(buf_head(&b), "xxfoobar", 8);
        buf_done(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_encode_vectors),
                cmocka_unit_test(test_decode_vectors),
                cmocka_unit_test(test_decode_lenient),
                cmocka_unit_test(test_decode_invalid),
                cmocka_unit_test(test_round_trip_all_lengths),
                cmocka_unit_test(test_appends_after_consumed_prefix),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
