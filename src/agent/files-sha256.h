/* SHA-256 (FIPS 180-4) for /files URL signatures (protocol.md §4.3). The agent
 * is a static binary without a crypto library; one small hash is all it needs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

struct sha256 {
        uint32_t h[8];
        uint64_t len; /* bytes hashed so far */
        uint8_t block[64];
        size_t used;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST_SIZE]);
