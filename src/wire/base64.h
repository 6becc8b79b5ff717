/* RFC 4648 base64, as the protobuf JSON mapping uses it for `bytes`. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"

/** Appends the standard-alphabet, padded encoding of p[0..n) to out (no quotes,
 *  no NUL). -ENOMEM on allocation failure (out unchanged). */
int base64_encode(const uint8_t *p, size_t n, struct buf *out);

/** Appends the bytes encoded by s[0..n) to out. Accepts the standard ('+', '/')
 *  and URL-safe ('-', '_') alphabets, with or without '=' padding (protocol.md
 *  §3.2). No whitespace. -EINVAL for any other input (a bad character,
 *  misplaced padding, a length of 4k+1), -ENOMEM; out is unchanged on error. */
int base64_decode(const char *s, size_t n, struct buf *out);
