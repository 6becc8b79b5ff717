/* Streaming multipart parser (see files-multipart.h).
 *
 * The body is seen as "\r\n" + body, so the first delimiter needs no special
 * case: every delimiter is "\r\n--" + boundary. Bytes that might be the start
 * of a delimiter split across two feeds are held back in `pend` (always
 * shorter than the delimiter); everything else is handed on at once. */
#include "files-multipart.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DELIM_MAX (4 + MULTIPART_BOUNDARY_MAX)
#define PADDING_MAX 64 /* transport padding (spaces, tabs) accepted after a delimiter */

enum mp_state {
        MP_PREAMBLE, /* before the first delimiter: discarded */
        MP_AFTER_DELIM, /* a candidate delimiter: what follows decides (Go's matchAfterPrefix) */
        MP_DASH2,       /* "-" seen after it: "--" closes the body */
        MP_CR,          /* "\r" seen after it: "\n" opens a part */
        MP_HEADERS,
        MP_BODY,
        MP_EPILOGUE, /* after the close delimiter: discarded */
        MP_FAILED,
};

struct multipart {
        const struct multipart_ops *ops;
        void *userdata;
        enum mp_state state;
        char delim[DELIM_MAX + 1];
        size_t dlen;
        unsigned char pend[DELIM_MAX];
        size_t plen;
        enum mp_state origin; /* where the candidate delimiter was found */
        unsigned char after[PADDING_MAX + 2];
        size_t alen;
        char hdr[MULTIPART_HEADERS_MAX + 1];
        size_t hlen;
        char name[256];
        char filename[PATH_MAX + 1];
};

static bool is_tspecial(char c)
{
        return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token_char(char c)
{
        return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f && !is_tspecial(c);
}

static const char *skip_ws(const char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        return s;
}

/* Go's mime consumeValue(): a token, or a quoted-string whose backslash
 * escapes only tspecials (MSIE sends "C:\dir\f.txt" unescaped). */
static const char *consume_value(const char *s, char *out, size_t outn, bool *ok)
{
        size_t k = 0;

        *ok = false;
        if (*s != '"') {
                while (is_token_char(*s)) {
                        if (k + 1 >= outn)
                                return s;
                        out[k++] = *s++;
                }
                out[k] = '\0';
                *ok = k > 0;
                return s;
        }
        for (s++; *s; s++) {
                char c = *s;

                if (c == '"') {
                        out[k] = '\0';
                        *ok = true;
                        return s + 1;
                }
                if (c == '\\' && s[1] && is_tspecial(s[1]))
                        c = *++s;
                else if (c == '\r' || c == '\n')
                        return s;
                if (k + 1 >= outn)
                        return s;
                out[k++] = c;
        }
        return s; /* no closing quote */
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)tolower((unsigned char)c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 2231 "utf-8''%E2%82%AC.txt" -> bytes; only UTF-8 / US-ASCII charsets. */
static bool decode_2231(const char *v, char *out, size_t outn)
{
        const char *q1 = strchr(v, '\''), *q2, *p;
        size_t k = 0;

        if (!q1 || !(q2 = strchr(q1 + 1, '\'')))
                return false;
        if (!((q1 - v == 5 && strncasecmp(v, "utf-8", 5) == 0) || (q1 - v == 8 && strncasecmp(v, "us-ascii", 8) == 0)))
                return false;
        for (p = q2 + 1; *p; p++) {
                int c = (unsigned char)*p;

                if (c == '%') {
                        int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;

                        if (lo < 0)
                                return false;
                        c = hi * 16 + lo;
                        p += 2;
                }
                if (c == 0 || k + 1 >= outn)
                        return false;
                out[k++] = (char)c;
        }
        out[k] = '\0';
        return true;
}

/* Finds parameter `key` in "type; k=v; k2=\"v2\"". Returns 1 and fills out when
 * present, 0 when absent, -EINVAL when the list is malformed. */
static int param_get(const char *s, const char *key, char *out, size_t outn)
{
        bool found = false;

        s = strchr(s, ';');
        while (s && *s == ';') {
                char k[64], value[PATH_MAX * 3 + 1];
                size_t kl = 0;
                bool ok;

                s = skip_ws(s + 1);
                if (!*s)
                        break; /* a trailing ';' is tolerated, as Go does */
                while (is_token_char(*s) || *s == '*') {
                        if (kl + 1 >= sizeof(k))
                                return -EINVAL;
                        k[kl++] = (char)tolower((unsigned char)*s++);
                }
                k[kl] = '\0';
                s = skip_ws(s);
                if (kl == 0 || *s != '=')
                        return -EINVAL;
                s = consume_value(skip_ws(s + 1), value, sizeof(value), &ok);
                if (!ok)
                        return -EINVAL; /* empty token, unterminated quote: Go's ErrInvalidMediaParameter */
                s = skip_ws(s);
                if (*s && *s != ';')
                        return -EINVAL;
                if (kl > 1 && k[kl - 1] == '*' && strncmp(k, key, kl - 1) == 0 && !key[kl - 1]) {
                        /* The extended form wins over the plain one. */
                        if (!decode_2231(value, out, outn))
                                return -EINVAL;
                        return 1;
                }
                if (!found && strcmp(k, key) == 0) {
                        size_t n = strlen(value);

                        if (n + 1 > outn)
                                return -EINVAL;
                        memcpy(out, value, n + 1);
                        found = true;
                }
        }
        return found ? 1 : 0;
}

int multipart_boundary(const char *content_type, char out[static MULTIPART_BOUNDARY_MAX + 1])
{
        char b[MULTIPART_BOUNDARY_MAX + 2];
        const char *s;
        size_t tl;
        int r;

        if (!content_type)
                return -EINVAL;
        s = skip_ws(content_type);
        tl = strcspn(s, "; \t");
        if (!((tl == 19 && strncasecmp(s, "multipart/form-data", 19) == 0) ||
              (tl == 15 && strncasecmp(s, "multipart/mixed", 15) == 0)))
                return -EINVAL;
        r = param_get(s, "boundary", b, sizeof(b));
        if (r <= 0)
                return -EINVAL;
        tl = strlen(b);
        if (tl == 0 || tl > MULTIPART_BOUNDARY_MAX)
                return -EINVAL;
        for (size_t i = 0; i < tl; i++)
                if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e)
                        return -EINVAL;
        memcpy(out, b, tl + 1);
        return 0;
}

int multipart_new(const char *boundary, const struct multipart_ops *ops, void *userdata, struct multipart **ret)
{
        size_t bl = strlen(boundary);
        struct multipart *m;

        if (bl == 0 || bl > MULTIPART_BOUNDARY_MAX)
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->ops = ops;
        m->userdata = userdata;
        m->state = MP_PREAMBLE;
        memcpy(m->delim, "\r\n--", 4);
        memcpy(m->delim + 4, boundary, bl);
        m->dlen = 4 + bl;
        /* The virtual CRLF before the body: a delimiter may open it. */
        memcpy(m->pend, "\r\n", 2);
        m->plen = 2;
        *ret = m;
        return 0;
}

struct multipart *multipart_free(struct multipart *m)
{
        free(m);
        return NULL;
}

static int fail(struct multipart *m, struct nb_error *err, const char *msg)
{
        m->state = MP_FAILED;
        return nb_error_set(err, -EBADMSG, "malformed multipart body: %s", msg);
}

static int emit(struct multipart *m, const void *p, size_t n)
{
        if (m->state != MP_BODY || n == 0)
                return 0; /* preamble bytes are dropped */
        return m->ops->part_data(m->userdata, p, n);
}

/* Length of the longest suffix of p[0..n) that is a proper prefix of the delimiter. */
static size_t partial_suffix(const struct multipart *m, const unsigned char *p, size_t n)
{
        size_t from = n > m->dlen - 1 ? n - (m->dlen - 1) : 0;

        for (size_t i = from; i < n; i++)
                if (p[i] == '\r' && memcmp(p + i, m->delim, n - i) == 0)
                        return n - i;
        return 0;
}

/* Body or preamble bytes: hands on data up to the next delimiter. Sets *found
 * and returns the bytes of p consumed (the delimiter included), or < 0. */
static ssize_t scan(struct multipart *m, const unsigned char *p, size_t n, bool *found)
{
        size_t off = 0, s;
        const unsigned char *hit;
        int r;

        *found = false;
        if (m->plen > 0) {
                unsigned char tmp[2 * DELIM_MAX];
                size_t take = n < m->dlen ? n : m->dlen, tlen = m->plen + take;

                memcpy(tmp, m->pend, m->plen);
                memcpy(tmp + m->plen, p, take);
                hit = memmem(tmp, tlen, m->delim, m->dlen);
                if (hit) {
                        size_t pos = (size_t)(hit - tmp);

                        m->plen = 0;
                        r = emit(m, tmp, pos);
                        if (r < 0)
                                return r;
                        *found = true;
                        return (ssize_t)(pos + m->dlen - (tlen - take));
                }
                if (take < m->dlen) {
                        /* Too few new bytes to decide: keep what may still start a delimiter. */
                        s = partial_suffix(m, tmp, tlen);
                        r = emit(m, tmp, tlen - s);
                        if (r < 0)
                                return r;
                        memmove(m->pend, tmp + tlen - s, s);
                        m->plen = s;
                        return (ssize_t)n;
                }
                /* No delimiter starts inside pend: all of it is data. */
                r = emit(m, m->pend, m->plen);
                m->plen = 0;
                if (r < 0)
                        return r;
        }
        hit = memmem(p + off, n - off, m->delim, m->dlen);
        if (hit) {
                size_t pos = (size_t)(hit - p);

                r = emit(m, p, pos);
                if (r < 0)
                        return r;
                *found = true;
                return (ssize_t)(pos + m->dlen);
        }
        s = partial_suffix(m, p, n);
        r = emit(m, p, n - s);
        if (r < 0)
                return r;
        memcpy(m->pend, p + n - s, s);
        m->plen = s;
        return (ssize_t)n;
}

/* A candidate delimiter was followed by something else: hand its bytes on as
 * data of the current part (or drop them, in the preamble). */
static int reject_delimiter(struct multipart *m)
{
        int r = 0;

        m->state = m->origin;
        m->plen = 0;
        if (m->origin == MP_BODY) {
                r = m->ops->part_data(m->userdata, m->delim, m->dlen);
                if (r >= 0 && m->alen > 0)
                        r = m->ops->part_data(m->userdata, m->after, m->alen);
        }
        m->alen = 0;
        return r;
}

/* Headers of one part are in m->hdr (without the final blank line). */
static int parse_headers(struct multipart *m, struct nb_error *err)
{
        bool have_name = false, have_filename = false;
        char *line = m->hdr;

        if (memchr(m->hdr, '\0', m->hlen))
                return fail(m, err, "NUL byte in part headers");
        m->hdr[m->hlen] = '\0';
        while (*line) {
                char *end = strstr(line, "\r\n"), *colon;

                if (end)
                        *end = '\0';
                colon = strchr(line, ':');
                if (colon && (size_t)(colon - line) == 19 && strncasecmp(line, "Content-Disposition", 19) == 0) {
                        const char *v = skip_ws(colon + 1);
                        int r;

                        r = param_get(v, "name", m->name, sizeof(m->name));
                        if (r < 0)
                                return fail(m, err, "bad Content-Disposition");
                        have_name = r > 0;
                        r = param_get(v, "filename", m->filename, sizeof(m->filename));
                        if (r < 0)
                                return fail(m, err, "bad Content-Disposition filename");
                        have_filename = r > 0;
                } else if (!colon && line[0])
                        return fail(m, err, "part header without ':'");
                if (!end)
                        break;
                line = end + 2;
        }
        return m->ops->part_begin(m->userdata, have_name ? m->name : NULL, have_filename ? m->filename : NULL);
}

int multipart_feed(struct multipart *m, const void *data, size_t n, struct nb_error *err)
{
        const unsigned char *p = data;
        int r;

        while (n > 0) {
                switch (m->state) {
                case MP_PREAMBLE:
                case MP_BODY: {
                        bool found;
                        ssize_t k = scan(m, p, n, &found);

                        if (k < 0) {
                                m->state = MP_FAILED;
                                return (int)k;
                        }
                        p += k;
                        n -= (size_t)k;
                        if (!found)
                                break;
                        m->origin = m->state;
                        m->alen = 0;
                        m->state = MP_AFTER_DELIM;
                        break;
                }
                case MP_AFTER_DELIM:
                case MP_DASH2:
                case MP_CR: {
                        enum mp_state next = MP_FAILED;

                        if (m->state == MP_AFTER_DELIM) {
                                if (*p == '-')
                                        next = MP_DASH2;
                                else if (*p == '\r')
                                        next = MP_CR;
                                else if ((*p == ' ' || *p == '\t') && m->alen < PADDING_MAX)
                                        next = MP_AFTER_DELIM;
                        } else if (m->state == MP_DASH2 && *p == '-')
                                next = MP_EPILOGUE;
                        else if (m->state == MP_CR && *p == '\n')
                                next = MP_HEADERS;
                        if (next == MP_FAILED) {
                                /* Not a delimiter after all: its bytes were content. This byte is
                                 * looked at again by the scanner. */
                                r = reject_delimiter(m);
                                if (r < 0) {
                                        m->state = MP_FAILED;
                                        return r;
                                }
                                break;
                        }
                        p++;
                        n--;
                        if (next == MP_AFTER_DELIM || next == MP_DASH2 || next == MP_CR) {
                                m->after[m->alen++] = p[-1];
                                m->state = next;
                                break;
                        }
                        /* Confirmed: the part before it (if any) is complete. */
                        if (m->origin == MP_BODY) {
                                r = m->ops->part_end(m->userdata);
                                if (r < 0) {
                                        m->state = MP_FAILED;
                                        return r;
                                }
                        }
                        m->alen = 0;
                        m->hlen = 0;
                        m->state = next;
                        break;
                }
                case MP_HEADERS: {
                        bool done = false;

                        while (n > 0 && !done) {
                                if (m->hlen >= MULTIPART_HEADERS_MAX)
                                        return fail(m, err, "part headers longer than 16 KiB");
                                m->hdr[m->hlen++] = (char)*p++;
                                n--;
                                if (m->hlen == 2 && memcmp(m->hdr, "\r\n", 2) == 0) {
                                        m->hlen = 0; /* no headers at all */
                                        done = true;
                                } else if (m->hlen >= 4 && memcmp(m->hdr + m->hlen - 4, "\r\n\r\n", 4) == 0) {
                                        m->hlen -= 4;
                                        done = true;
                                }
                        }
                        if (!done)
                                break;
                        r = parse_headers(m, err);
                        m->name[0] = m->filename[0] = '\0';
                        if (r < 0) {
                                m->state = MP_FAILED;
                                return r;
                        }
                        m->state = MP_BODY;
                        m->plen = 0;
                        break;
                }
                case MP_EPILOGUE:
                        return 0;
                case MP_FAILED:
                        return -EBADMSG;
                }
        }
        return 0;
}

int multipart_finish(struct multipart *m, struct nb_error *err)
{
        switch (m->state) {
        case MP_EPILOGUE:
                return 0;
        case MP_FAILED:
                return -EBADMSG;
        case MP_PREAMBLE:
                return fail(m, err, "no boundary found");
        default:
                return fail(m, err, "body ended inside a part");
        }
}
