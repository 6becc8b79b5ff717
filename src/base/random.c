/* getrandom-backed ids. Rejection sampling keeps [a-z0-9] uniform. */
#include "random.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

static int fill(void *p, size_t n)
{
        uint8_t *q = p;

        while (n > 0) {
                ssize_t k = getrandom(q, n, 0);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                q += k;
                n -= (size_t)k;
        }
        return 0;
}

int random_alnum(char *out, size_t n)
{
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        size_t i = 0;

        while (i < n) {
                uint8_t pool[64];
                int r = fill(pool, sizeof(pool));

                if (r < 0)
                        return r;
                for (size_t j = 0; j < sizeof(pool) && i < n; j++)
                        if (pool[j] < 252) /* 252 = 7 * 36: keeps the draw uniform */
                                out[i++] = alphabet[pool[j] % 36];
        }
        out[n] = 0;
        return 0;
}

int random_hex(char *out, size_t n_bytes)
{
        static const char digits[] = "0123456789abcdef";
        uint8_t b;

        for (size_t i = 0; i < n_bytes; i++) {
                int r = fill(&b, 1);

                if (r < 0)
                        return r;
                out[2 * i] = digits[b >> 4];
                out[2 * i + 1] = digits[b & 15];
        }
        out[2 * n_bytes] = 0;
        return 0;
}
