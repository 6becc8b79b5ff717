/* list-query: the triple-encoded metadata filter, states, RFC 3339. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../../../src/api/list-query.h"

static void test_metadata_sdk_encoding(void **state)
{
        struct metadata_filter f;

        /* The SDK sends metadata=user%3Da%252520b for {user: "a b"}; MHD undoes one layer. */
        assert_int_equal(metadata_filter_parse("user=a%2520b", &f), 0);
        assert_int_equal(f.n, 1);
        assert_string_equal(f.kv[0], "user");
        assert_string_equal(f.kv[1], "a b");
        metadata_filter_done(&f);
}

static void test_metadata_several_and_special(void **state)
{
        struct metadata_filter f;

        /* {a: "x=y&z", "k 2": "v"}: '=' and '&' inside values are encoded twice. */
        assert_int_equal(metadata_filter_parse("a=x%253Dy%2526z%26k%25202=v", &f), 0);
        assert_int_equal(f.n, 2);
        assert_string_equal(f.kv[0], "a");
        assert_string_equal(f.kv[1], "x=y&z");
        assert_string_equal(f.kv[2], "k 2");
        assert_string_equal(f.kv[3], "v");
        metadata_filter_done(&f);
}

static void test_metadata_bad(void **state)
{
        static const char *const bad[] = {"novalue", "a=b=c", "a=%zz", "a=%2", "a=%00", "a=%25"};
        struct metadata_filter f;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(metadata_filter_parse(bad[i], &f), -EINVAL);
}

static void test_states(void **state)
{
        unsigned m;

        assert_int_equal(list_parse_states("running,paused", &m), 0);
        assert_int_equal(m, 3);
        assert_int_equal(list_parse_states("paused", &m), 0);
        assert_int_equal(m, 2);
        assert_int_equal(list_parse_states("running,killed", &m), -EINVAL);
}

static void test_int(void **state)
{
        int64_t v = -7;

        assert_int_equal(query_parse_int("12", 1, 100, &v), 0);
        assert_int_equal(v, 12);
        assert_int_equal(query_parse_int("0", 0, 0, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(query_parse_int("1764000000000", 0, INT64_MAX, &v), 0);
        assert_true(v == 1764000000000LL);
        v = 5;
        {
                static const char *const bad[] = {"", " 1", "12x", "1e3", "+1", "101", "0", "-1",
                                                  "99999999999999999999999"};

                for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                        assert_int_equal(query_parse_int(bad[i], 1, 100, &v), -EINVAL);
        }
        assert_int_equal(v, 5);
        assert_int_equal(query_parse_int(NULL, 1, 100, &v), -EINVAL);
}

static void test_rfc3339(void **state)
{
        int64_t ms;

        assert_int_equal(list_parse_rfc3339_ms("2025-01-01T00:00:00Z", &ms), 0);
        assert_int_equal(ms, 1735689600000LL);
        assert_int_equal(list_parse_rfc3339_ms("2025-01-01T00:00:00.123Z", &ms), 0);
        assert_int_equal(ms, 1735689600123LL);
        assert_int_equal(list_parse_rfc3339_ms("2025-01-01T01:00:00+01:00", &ms), 0);
        assert_int_equal(ms, 1735689600000LL);
        assert_int_equal(list_parse_rfc3339_ms("yesterday", &ms), -EINVAL);
        assert_int_equal(list_parse_rfc3339_ms("2025-01-01T00:00:00Zjunk", &ms), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_metadata_sdk_encoding), cmocka_unit_test(test_metadata_several_and_special),
                cmocka_unit_test(test_metadata_bad), cmocka_unit_test(test_states), cmocka_unit_test(test_int), cmocka_unit_test(test_rfc3339),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
