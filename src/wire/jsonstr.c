/* JSON string escaping and UTF-8 validation for the JSON wire/ produces. */
#include "jsonstr.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t utf8_sequence_length(const char *s, size_t n)
{
        const uint8_t *p = (const uint8_t *)s;
        uint8_t lo = 0x80, hi = 0xBF;
        size_t len;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xC2 && p[0] <= 0xDF)
                len = 2;
        else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
                len = 3;
                if (p[0] == 0xE0)
                        lo = 0xA0; /* overlong */
                else if (p[0] == 0xED)
                        hi = 0x9F; /* UTF-16 surrogates */
        } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
                len = 4;
                if (p[0] == 0xF0)
                        lo = 0x90; /* overlong */
                else if (p[0] == 0xF4)
                        hi = 0x8F; /* > U+10FFFF */
        } else
                return 0;
        if (n < len)
                return 0;
        if (p[1] < lo || p[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if ((p[i] & 0xC0) != 0x80)
                        return 0;
        return len;
}

bool utf8_is_valid(const char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                size_t l = utf8_sequence_length(s + i, n - i);
                if (l == 0)
                        return false;
                i += l;
        }
        return true;
}

int jsonstr_append(struct buf *b, const char *s, size_t n, bool lossy)
{
        static const char hex[] = "0123456789abcdef";
        size_t start, i = 0;
        int r;

        /* Worst case is 6 bytes per input byte (\u00XX); reserve the common case.
         * buf_reserve() may compact the buffer, so take the rollback mark after it. */
        r = buf_reserve(b, n + 2);
        if (r < 0)
                return r;
        start = b->len;
        b->data[b->len++] = '"';
        while (i < n) {
                uint8_t c = (uint8_t)s[i];
                size_t run = i;

                /* Copy the longest run of bytes needing no escape in one go. */
                while (run < n && (uint8_t)s[run] >= 0x20 && (uint8_t)s[run] < 0x80 && s[run] != '"' &&
                       s[run] != '\\')
                        run++;
                if (run > i) {
                        r = buf_append(b, s + i, run - i);
                        if (r < 0)
                                goto fail;
                        i = run;
                        continue;
                }
                if (c >= 0x80) {
                        size_t l = utf8_sequence_length(s + i, n - i);
                        if (l == 0) {
                                if (!lossy) {
                                        r = -EILSEQ;
                                        goto fail;
                                }
                                r = buf_append(b, "\xEF\xBF\xBD", 3);
                                l = 1;
                        } else
                                r = buf_append(b, s + i, l);
                        if (r < 0)
                                goto fail;
                        i += l;
                        continue;
                }
                switch (c) {
                case '"':
                        r = buf_append(b, "\\\"", 2);
                        break;
                case '\\':
                        r = buf_append(b, "\\\\", 2);
                        break;
                case '\b':
                        r = buf_append(b, "\\b", 2);
                        break;
                case '\f':
                        r = buf_append(b, "\\f", 2);
                        break;
                case '\n':
                        r = buf_append(b, "\\n", 2);
                        break;
                case '\r':
                        r = buf_append(b, "\\r", 2);
                        break;
                case '\t':
                        r = buf_append(b, "\\t", 2);
                        break;
                default: {
                        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                        r = buf_append(b, esc, sizeof(esc));
                        break;
                }
                }
                if (r < 0)
                        goto fail;
                i++;
        }
        r = buf_append(b, "\"", 1);
        if (r < 0)
                goto fail;
        return 0;
fail:
        b->len = start;
        return r;
}

char *utf8_sanitize(const char *s)
{
        size_t n = strlen(s);
        struct buf b = {0};

        if (utf8_is_valid(s, n))
                return strdup(s);
        for (size_t i = 0; i < n;) {
                size_t k = utf8_sequence_length(s + i, n - i);

                if (k == 0) {
                        if (buf_append(&b, "\xEF\xBF\xBD", 3) < 0)
                                goto oom;
                        i++;
                } else {
                        if (buf_append(&b, s + i, k) < 0)
                                goto oom;
                        i += k;
                }
        }
        if (buf_append(&b, "", 1) < 0)
                goto oom;
        return (char *)b.data;
oom:
        buf_done(&b);
        return NULL;
}
