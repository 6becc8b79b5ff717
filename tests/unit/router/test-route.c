/* route_classify: header routing, Host routing, hostile values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../../src/router/route.h"

static void test_headers(void **state)
{
        struct route r;

        route_classify("abc123", "49983", "127.0.0.1:3000", &r);
        assert_int_equal(r.kind, ROUTE_SANDBOX);
        assert_int_equal(r.port, 49983);
        assert_string_equal(r.sandbox_id, "abc123");
}

static void test_one_header_missing(void **state)
{
        struct route r;

        route_classify("abc123", NULL, NULL, &r);
        assert_int_equal(r.kind, ROUTE_INVALID);
        route_classify(NULL, "49983", NULL, &r);
        assert_int_equal(r.kind, ROUTE_INVALID);
}

static void test_hostile_headers(void **state)
{
        static const char *const ids[] = {"", "../etc", "ABC", "a-b", "a/b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
        static const char *const ports[] = {"", "0", "65536", "49983x", "-1", "999999"};
        struct route r;

        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
                route_classify(ids[i], "49983", NULL, &r);
                assert_int_equal(r.kind, ROUTE_INVALID);
        }
        for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
                route_classify("abc", ports[i], NULL, &r);
                assert_int_equal(r.kind, ROUTE_INVALID);
        }
}

static void test_host(void **state)
{
        struct route r;

        route_classify(NULL, NULL, "49999-i1a2b3c4d5e6f7g8h9j0.e2b.local:3000", &r);
        assert_int_equal(r.kind, ROUTE_SANDBOX);
        assert_int_equal(r.port, 49999);
        assert_string_equal(r.sandbox_id, "i1a2b3c4d5e6f7g8h9j0");
}

static void test_api_hosts(void **state)
{
        static const char *const hosts[] = {"127.0.0.1:3000", "localhost", "api.e2b.local", "x-y.example.com",
                                            "80-.example.com", "80-ABC.example.com", ""};
        struct route r;

        for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
                route_classify(NULL, NULL, hosts[i], &r);
                assert_int_equal(r.kind, ROUTE_API);
        }
        route_classify(NULL, NULL, NULL, &r);
        assert_int_equal(r.kind, ROUTE_API);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_headers),   cmocka_unit_test(test_one_header_missing),
                cmocka_unit_test(test_hostile_headers), cmocka_unit_test(test_host),
                cmocka_unit_test(test_api_hosts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
