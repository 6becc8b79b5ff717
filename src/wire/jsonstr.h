/* JSON string literals and UTF-8 checks: the one place wire/ escapes text
 * for JSON it writes itself (Connect end-of-stream and error bodies, pbjson). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../base/buf.h"

/** Length (1..4) of the well-formed UTF-8 sequence at s[0..n), or 0 when it is
 *  malformed (overlong, surrogate, > U+10FFFF, truncated). n must be >= 1. */
size_t utf8_sequence_length(const char *s, size_t n);

/** True when s[0..n) is well-formed UTF-8. */
bool utf8_is_valid(const char *s, size_t n);

/** A malloc'd copy of s with each malformed byte replaced by U+FFFD: file names and
 *  command lines are bytes, JSON and protobuf strings UTF-8. NULL on out of memory. */
char *utf8_sanitize(const char *s);

/** Appends s[0..n) as a quoted JSON string. Escapes '"', '\\' and control
 *  characters. Malformed UTF-8 is -EILSEQ when lossy is false (b unchanged),
 *  or replaced by U+FFFD per bad byte when lossy is true (for error texts that
 *  may quote a file name). -ENOMEM on allocation failure. */
int jsonstr_append(struct buf *b, const char *s, size_t n, bool lossy);
