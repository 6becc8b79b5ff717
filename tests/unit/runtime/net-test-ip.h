/* The network tests' IPv4 literal: "a.b.c.d" in host byte order, as the runtime's
 * net code keeps addresses. Include after <cmocka.h>. */
#pragma once

#include <arpa/inet.h>
#include <stdint.h>

static inline uint32_t ip(const char *s)
{
        struct in_addr in;

        assert_int_equal(inet_pton(AF_INET, s, &in), 1);
        return ntohl(in.s_addr);
}
