/* list-query: decoding helpers for GET /v2/sandboxes. */
#include "list-query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int hex(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int percent_decode(const char *s, size_t n, char **ret)
{
        char *out = malloc(n + 1);
        size_t j = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%') {
                        int hi, lo;

                        if (i + 2 >= n) {
                                free(out);
                                return -EINVAL;
                        }
                        hi = hex(s[i + 1]);
                        lo = hex(s[i + 2]);
                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                                free(out);
                                return -EINVAL;
                        }
                        out[j++] = (char)(hi << 4 | lo);
                        i += 2;
                } else
                        out[j++] = s[i];
        }
        out[j] = 0;
        *ret = out;
        return 0;
}

void metadata_filter_done(struct metadata_filter *f)
{
        for (size_t i = 0; i < 2 * f->n; i++)
                free(f->kv[i]);
        free(f->kv);
        *f = (struct metadata_filter){0};
}

int metadata_filter_parse(const char *once_decoded, struct metadata_filter *ret)
{
        struct metadata_filter f = {0};
        char *whole = NULL;
        const char *p;
        int r;

        r = percent_decode(once_decoded, strlen(once_decoded), &whole);
        if (r < 0)
                return r;
        p = whole;
        while (*p) {
                const char *amp = strchr(p, '&');
                size_t len = amp ? (size_t)(amp - p) : strlen(p);
                const char *eq = memchr(p, '=', len);
                char **kv;

                if (len == 0) { /* tolerate "a=1&&b=2" and a trailing '&' */
                        p += amp ? 1 : 0;
                        if (!amp)
                                break;
                        continue;
                }
                if (!eq || memchr(eq + 1, '=', len - (size_t)(eq - p) - 1)) {
                        r = -EINVAL;
                        goto fail;
                }
                kv = realloc(f.kv, (2 * f.n + 2) * sizeof(*kv));
                if (!kv) {
                        r = -ENOMEM;
                        goto fail;
                }
                f.kv = kv;
                f.kv[2 * f.n] = f.kv[2 * f.n + 1] = NULL;
                f.n++;
                r = percent_decode(p, (size_t)(eq - p), &f.kv[2 * f.n - 2]);
                if (r >= 0)
                        r = percent_decode(eq + 1, len - (size_t)(eq - p) - 1, &f.kv[2 * f.n - 1]);
                if (r < 0)
                        goto fail;
                p += len + (amp ? 1 : 0);
        }
        free(whole);
        *ret = f;
        return 0;
fail:
        free(whole);
        metadata_filter_done(&f);
        return r;
}

int list_parse_states(const char *s, unsigned *ret_mask)
{
        unsigned mask = 0;

        while (*s) {
                const char *comma = strchr(s, ',');
                size_t len = comma ? (size_t)(comma - s) : strlen(s);

                if (len == 7 && strncmp(s, "running", 7) == 0)
                        mask |= 1;
                else if (len == 6 && strncmp(s, "paused", 6) == 0)
                        mask |= 2;
                else if (len != 0)
                        return -EINVAL;
                s += len + (comma ? 1 : 0);
        }
        *ret_mask = mask;
        return 0;
}

int list_parse_rfc3339_ms(const char *s, int64_t *ret_ms)
{
        struct tm tm = {0};
        int64_t ms = 0, offset_s = 0;
        const char *p;

        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                int digits = 0;

                for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                        if (digits < 3)
                                ms = ms * 10 + (*p - '0');
                for (; digits < 3; digits++)
                        ms *= 10;
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int hh, mm;

                if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
                        return -EINVAL;
                offset_s = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
                p += 6;
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        *ret_ms = ((int64_t)timegm(&tm) - offset_s) * 1000 + ms;
        return 0;
}

int query_parse_int(const char *s, int64_t min, int64_t max, int64_t *ret)
{
        char *end;
        long long x;

        if (!s || (!(*s >= '0' && *s <= '9') && *s != '-'))
                return -EINVAL;
        errno = 0;
        x = strtoll(s, &end, 10);
        if (errno || end == s || *end || x < min || x > max)
                return -EINVAL;
        *ret = x;
        return 0;
}
