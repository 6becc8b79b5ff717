/* Egress rules (net-egress.c): entries parsed as E2B sends them, ranges merged so an
 * nftables set takes them, and the exact transaction text. Pure: no root needed. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net-internal.h"
#include "net-test-ip.h"
#include "runtime.h"

static void test_range_parse(void **state)
{
        struct runtime_ip_range r;

        (void)state;
        assert_int_equal(runtime_ip_range_parse("8.8.8.8", &r), 0);
        assert_int_equal(r.first, ip("8.8.8.8"));
        assert_int_equal(r.last, ip("8.8.8.8"));
        assert_int_equal(runtime_ip_range_parse("10.1.0.0/16", &r), 0);
        assert_int_equal(r.first, ip("10.1.0.0"));
        assert_int_equal(r.last, ip("10.1.255.255"));
        assert_int_equal(runtime_ip_range_parse("10.1.2.3/8", &r), 0); /* host bits ignored */
        assert_int_equal(r.first, ip("10.0.0.0"));
        assert_int_equal(runtime_ip_range_parse("0.0.0.0/0", &r), 0);
        assert_int_equal(r.first, 0);
        assert_int_equal(r.last, UINT32_MAX);
        assert_int_equal(runtime_ip_range_parse("1.2.3.4/32", &r), 0);
        assert_int_equal(r.first, r.last);

        assert_int_equal(runtime_ip_range_parse("::1", &r), -EAFNOSUPPORT);
        assert_int_equal(runtime_ip_range_parse("2001:db8::/32", &r), -EAFNOSUPPORT);
        assert_int_equal(runtime_ip_range_parse("10.0.0.0/33", &r), -EINVAL);
        assert_int_equal(runtime_ip_range_parse("10.0.0.0/", &r), -EINVAL);
        assert_int_equal(runtime_ip_range_parse("10.0.0.0/+8", &r), -EINVAL);
        assert_int_equal(runtime_ip_range_parse("10.0.0.0/ 8", &r), -EINVAL);
        assert_int_equal(runtime_ip_range_parse("10.0.0", &r), -EINVAL);
        assert_int_equal(runtime_ip_range_parse("256.1.1.1", &r), -EINVAL);
        assert_int_equal(runtime_ip_range_parse("example.com", &r), -EINVAL);
        assert_int_equal(runtime_ip_range_parse("", &r), -EINVAL);
        assert_int_equal(runtime_ip_range_parse("/8", &r), -EINVAL);
}

static void test_ranges_merge(void **state)
{
        struct runtime_ip_range r[] = {
                {ip("10.0.1.0"), ip("10.0.1.255")},
                {ip("10.0.0.0"), ip("10.0.0.255")}, /* adjacent */
                {ip("1.1.1.1"), ip("1.1.1.1")},
                {ip("10.0.0.5"), ip("10.0.0.9")}, /* inside */
                {ip("1.1.1.1"), ip("1.1.1.1")},   /* twice */
                {ip("255.255.255.255"), ip("255.255.255.255")},
                {ip("255.0.0.0"), ip("255.255.255.255")},
        };
        struct runtime_ip_range all[] = {{0, UINT32_MAX}, {ip("1.2.3.4"), ip("1.2.3.4")}};
        size_t n;

        (void)state;
        n = net_ranges_merge(r, ELEMENTSOF(r));
        assert_int_equal(n, 3);
        assert_int_equal(r[0].first, ip("1.1.1.1"));
        assert_int_equal(r[0].last, ip("1.1.1.1"));
        assert_int_equal(r[1].first, ip("10.0.0.0"));
        assert_int_equal(r[1].last, ip("10.0.1.255"));
        assert_int_equal(r[2].first, ip("255.0.0.0"));
        assert_int_equal(r[2].last, UINT32_MAX);
        assert_int_equal(net_ranges_merge(all, 2), 1);
        assert_int_equal(net_ranges_merge(all, 0), 0);
}

static void test_egress_text(void **state)
{
        struct runtime_ip_range allow[] = {{ip("192.168.1.7"), ip("192.168.1.7")},
                                           {ip("10.0.0.0"), ip("10.0.0.255")}};
        struct runtime_ip_range deny[] = {
                {ip("10.0.0.0"), ip("10.255.255.255")}, {0, UINT32_MAX}, {ip("1.0.0.3"), ip("1.0.0.9")}};
        struct runtime_egress e = {allow, 2, deny, 3};
        struct runtime_egress only_deny = {NULL, 0, deny + 2, 1};
        char *text = NULL;

        (void)state;
        assert_int_equal(net_egress_text("abcdefghijklmnopqrst", &e, &text), 0);
        assert_string_equal(
                text,
                "add table netdev nestbox\n"
                "add chain netdev nestbox sandbox_abcdefghijklmnopqrst { type filter hook ingress device "
                "\"nbabcdefghijklm\" priority filter; policy accept; }\n"
                "delete chain netdev nestbox sandbox_abcdefghijklmnopqrst\n"
                "add chain netdev nestbox sandbox_abcdefghijklmnopqrst { type filter hook ingress device "
                "\"nbabcdefghijklm\" priority filter; policy accept; }\n"
                "add rule netdev nestbox sandbox_abcdefghijklmnopqrst ip daddr { 10.0.0.0/24, 192.168.1.7 } "
                "accept\n"
                "add rule netdev nestbox sandbox_abcdefghijklmnopqrst ip daddr { 0.0.0.0/0 } meta l4proto "
                "tcp "
                "reject with tcp reset\n"
                "add rule netdev nestbox sandbox_abcdefghijklmnopqrst ip daddr { 0.0.0.0/0 } reject with "
                "icmpx "
                "admin-prohibited\n");
        free(text);
        text = NULL;
        assert_int_equal(net_egress_text("x1", &only_deny, &text), 0);
        assert_non_null(strstr(text, "sandbox_x1 ip daddr { 1.0.0.3-1.0.0.9 } meta l4proto tcp"));
        assert_null(strstr(text, "accept\n"));
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_range_parse),
                cmocka_unit_test(test_ranges_merge),
                cmocka_unit_test(test_egress_text),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
