/* base64 for protobuf JSON `bytes`: strict standard encoder, lenient decoder
 * (both alphabets, optional padding) because clients differ (§3.2). */
#include "base64.h"

#include <errno.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(const uint8_t *p, size_t n, struct buf *out)
{
        size_t groups = n / 3 + (n % 3 != 0);
        uint8_t *o;
        size_t i;
        int r;

        if (groups > (SIZE_MAX - 1) / 4)
                return -ENOMEM;
        r = buf_reserve(out, groups * 4);
        if (r < 0)
                return r;
        o = out->data + out->len;
        for (i = 0; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
                *o++ = (uint8_t)alphabet[v >> 18];
                *o++ = (uint8_t)alphabet[(v >> 12) & 0x3F];
                *o++ = (uint8_t)alphabet[(v >> 6) & 0x3F];
                *o++ = (uint8_t)alphabet[v & 0x3F];
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t)p[i] << 16;
                *o++ = (uint8_t)alphabet[v >> 18];
                *o++ = (uint8_t)alphabet[(v >> 12) & 0x3F];
                *o++ = '=';
                *o++ = '=';
        } else if (n - i == 2) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
                *o++ = (uint8_t)alphabet[v >> 18];
                *o++ = (uint8_t)alphabet[(v >> 12) & 0x3F];
                *o++ = (uint8_t)alphabet[(v >> 6) & 0x3F];
                *o++ = '=';
        }
        out->len = (size_t)(o - out->data);
        return 0;
}

static int sextet(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+' || c == '-')
                return 62;
        if (c == '/' || c == '_')
                return 63;
        return -1;
}

int base64_decode(const char *s, size_t n, struct buf *out)
{
        size_t pad = 0, full, rem, start;
        uint8_t *o;
        int r;

        /* Padding, when present, makes the length a multiple of 4. */
        while (n > 0 && pad < 2 && s[n - 1] == '=') {
                n--;
                pad++;
        }
        if (pad > 0 && (n + pad) % 4 != 0)
                return -EINVAL;
        rem = n % 4;
        if (rem == 1)
                return -EINVAL;
        full = n / 4;
        r = buf_reserve(out, full * 3 + (rem ? rem - 1 : 0));
        if (r < 0)
                return r;
        start = out->len; /* after buf_reserve(), which may compact */
        o = out->data + out->len;
        for (size_t g = 0; g < full; g++) {
                int a = sextet(s[4 * g]), b = sextet(s[4 * g + 1]), c = sextet(s[4 * g + 2]),
                    d = sextet(s[4 * g + 3]);
                uint32_t v;

                if ((a | b | c | d) < 0)
                        goto bad;
                v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
                *o++ = (uint8_t)(v >> 16);
                *o++ = (uint8_t)(v >> 8);
                *o++ = (uint8_t)v;
        }
        if (rem >= 2) {
                const char *t = s + 4 * full;
                int a = sextet(t[0]), b = sextet(t[1]), c = rem == 3 ? sextet(t[2]) : 0;
                uint32_t v;

                if ((a | b | c) < 0)
                        goto bad;
                v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
                *o++ = (uint8_t)(v >> 16);
                if (rem == 3)
                        *o++ = (uint8_t)(v >> 8);
        }
        out->len = (size_t)(o - out->data);
        return 0;
bad:
        out->len = start;
        return -EINVAL;
}
