/* Random identifiers from getrandom(2). */
#pragma once

#include <stddef.h>

/** Fills out[0..n) with [a-z0-9] and NUL-terminates at out[n]; out must hold n + 1 bytes. */
int random_alnum(char *out, size_t n);
/** Fills out[0..2n) with lowercase hex of n random bytes and NUL-terminates it. */
int random_hex(char *out, size_t n_bytes);
