/* Parsing of query parameters (list filters, limits, times). Pure functions, unit-tested. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct metadata_filter {
        char **kv; /* k0, v0, k1, v1, ... (owned) */
        size_t n;  /* number of pairs */
};

/** Parses a metadata filter whose first URL-encoding layer is already undone:
 *  percent-decode the whole string, split on '&' then on the single '=', and
 *  percent-decode each key and value. -EINVAL on malformed input. */
int metadata_filter_parse(const char *once_decoded, struct metadata_filter *ret);
void metadata_filter_done(struct metadata_filter *f);

/** "running,paused" -> bit 0 running, bit 1 paused. */
int list_parse_states(const char *s, unsigned *ret_mask);

/** RFC 3339 ("2025-01-01T00:00:00Z", fractional seconds and offsets allowed) -> unix ms. */
int list_parse_rfc3339_ms(const char *s, int64_t *ret_ms);

/** A whole decimal integer in [min, max] ("12", not "12x", "", " 1" or "1e3"). -EINVAL otherwise. */
int query_parse_int(const char *s, int64_t min, int64_t max, int64_t *ret);

/** Percent-decodes n bytes of s into a new string; -EINVAL on a bad escape or an embedded NUL. */
int percent_decode(const char *s, size_t n, char **ret);
