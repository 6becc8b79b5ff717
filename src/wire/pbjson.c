/* pbjson shared pieces: field naming (JSON names, map entries), error paths, and
 * google.protobuf.Timestamp's RFC 3339 form. Conversion itself lives in
 * pbjson-decode.c and pbjson-encode.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pbjson-internal.h"

/* ASCII only: proto identifiers are ASCII, and the static agent runs without a locale. */
static char ascii_upper(char c)
{
        return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Appends the already formatted text; an over-long path is cut, never overflowed. */
static size_t path_append(struct pbjson_path *p, const char *text, int n)
{
        size_t old = p->len, room = sizeof(p->s) - 1 - p->len, len;

        if (n < 0)
                return old;
        len = strlen(text); /* snprintf() returns the untruncated length */
        if (len > room)
                len = room;
        memcpy(p->s + p->len, text, len);
        p->len += len;
        p->s[p->len] = 0;
        return old;
}

size_t pbjson_path_push_field(struct pbjson_path *p, const char *name)
{
        char t[sizeof(p->s)];

        return path_append(p, t, snprintf(t, sizeof(t), p->len ? ".%s" : "%s", name));
}

size_t pbjson_path_push_index(struct pbjson_path *p, size_t i)
{
        char t[32];

        return path_append(p, t, snprintf(t, sizeof(t), "[%zu]", i));
}

size_t pbjson_path_push_key(struct pbjson_path *p, const char *key)
{
        char t[48];

        /* Keys are client input: cut them short (STYLE.md §3). */
        return path_append(p, t, snprintf(t, sizeof(t), "[\"%.32s\"]", key));
}

void pbjson_path_pop(struct pbjson_path *p, size_t len)
{
        p->len = len;
        p->s[len] = 0;
}

bool pbjson_json_name_eq(const char *proto_name, const char *key)
{
        bool upper = false;

        for (; *proto_name; proto_name++) {
                if (*proto_name == '_') {
                        upper = true;
                        continue;
                }
                if (*key != (upper ? ascii_upper(*proto_name) : *proto_name))
                        return false;
                upper = false;
                key++;
        }
        return *key == 0;
}

int pbjson_json_name_append(struct buf *b, const char *proto_name)
{
        bool upper = false;
        int r;

        for (; *proto_name; proto_name++) {
                char c = *proto_name;

                if (c == '_') {
                        upper = true;
                        continue;
                }
                if (upper)
                        c = ascii_upper(c);
                upper = false;
                r = buf_append(b, &c, 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* protoc names a map's entry message ToCamelCase(field, upper first) + "Entry". */
static bool map_entry_name_eq(const char *field, const char *entry)
{
        bool upper = true;

        for (; *field; field++) {
                if (*field == '_') {
                        upper = true;
                        continue;
                }
                if (*entry != (upper ? ascii_upper(*field) : *field))
                        return false;
                upper = false;
                entry++;
        }
        return strcmp(entry, "Entry") == 0;
}

bool pbjson_field_is_map(const ProtobufCFieldDescriptor *f)
{
        const ProtobufCMessageDescriptor *d = f->descriptor;

        /* protobuf-c 1.4 keeps no map flag; the entry's shape is the only witness. */
        return f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE && d &&
               d->n_fields == 2 && d->fields[0].id == 1 && strcmp(d->fields[0].name, "key") == 0 &&
               d->fields[1].id == 2 && strcmp(d->fields[1].name, "value") == 0 &&
               d->fields[0].label != PROTOBUF_C_LABEL_REPEATED &&
               d->fields[1].label != PROTOBUF_C_LABEL_REPEATED && map_entry_name_eq(f->name, d->short_name);
}

bool pbjson_is_timestamp(const ProtobufCMessageDescriptor *d)
{
        return strcmp(d->name, "google.protobuf.Timestamp") == 0 && d->n_fields == 2 &&
               d->fields[0].id == 1 && d->fields[0].type == PROTOBUF_C_TYPE_INT64 && d->fields[1].id == 2 &&
               d->fields[1].type == PROTOBUF_C_TYPE_INT32;
}

size_t pbjson_element_size(ProtobufCType type)
{
        switch (type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_ENUM:
                return 4;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
                return 8;
        case PROTOBUF_C_TYPE_BOOL:
                return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING:
                return sizeof(char *);
        case PROTOBUF_C_TYPE_BYTES:
                return sizeof(ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(ProtobufCMessage *);
        }
        return 0;
}

/* Timestamp bounds, as in google/protobuf/timestamp.proto. */
#define TS_MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TS_MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
        int64_t era, doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *ret_d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
        *ret_m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
        *ret_y = yoe + era * 400 + (*ret_m <= 2);
}

static bool is_leap(int64_t y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly n digits. */
static bool digits(const char *s, size_t n, unsigned *ret)
{
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        *ret = v;
        return true;
}

int pbjson_timestamp_parse(const char *s, size_t n, int64_t *ret_seconds, int32_t *ret_nanos)
{
        static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        unsigned y, mo, d, h, mi, sec, nanos = 0, oh = 0, om = 0;
        int64_t secs;
        size_t i = 19;
        int sign = 0;

        /* YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+hh:mm|-hh:mm) (§3.2) */
        if (n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
            !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
            s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
                return -EINVAL;
        if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
                return -EINVAL;
        if (d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
                return -EINVAL;
        if (s[i] == '.') {
                size_t nd = 0;

                i++;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                        if (++nd > 9)
                                return -EINVAL;
                        nanos = nanos * 10 + (unsigned)(s[i] - '0');
                        i++;
                }
                if (nd == 0)
                        return -EINVAL;
                for (; nd < 9; nd++)
                        nanos *= 10;
        }
        if (i < n && (s[i] == 'Z' || s[i] == 'z'))
                i++;
        else if (i < n && (s[i] == '+' || s[i] == '-')) {
                sign = s[i] == '+' ? 1 : -1;
                if (n - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
                    !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
                        return -EINVAL;
                i += 6;
        } else
                return -EINVAL;
        if (i != n)
                return -EINVAL;
        secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
        secs -= sign * (int64_t)(oh * 3600 + om * 60);
        if (secs < TS_MIN_SECONDS || secs > TS_MAX_SECONDS)
                return -EINVAL;
        *ret_seconds = secs;
        *ret_nanos = (int32_t)nanos;
        return 0;
}

int pbjson_timestamp_format(int64_t seconds, int32_t nanos, struct buf *out)
{
        int64_t days = seconds / 86400, rem = seconds % 86400, y;
        unsigned m, d;

        if (seconds < TS_MIN_SECONDS || seconds > TS_MAX_SECONDS || nanos < 0 || nanos > 999999999)
                return -EINVAL;
        if (rem < 0) {
                rem += 86400;
                days--;
        }
        civil_from_days(days, &y, &m, &d);
        /* Go's protojson prints 0, 3, 6 or 9 fractional digits, whichever is exact. */
        if (nanos == 0)
                return buf_printf(out, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d, (int)(rem / 3600),
                                  (int)(rem / 60 % 60), (int)(rem % 60));
        if (nanos % 1000000 == 0)
                return buf_printf(out, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", (int)y, m, d,
                                  (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
                                  (int)(nanos / 1000000));
        if (nanos % 1000 == 0)
                return buf_printf(out, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", (int)y, m, d,
                                  (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
                                  (int)(nanos / 1000));
        return buf_printf(out, "%04d-%02u-%02uT%02d:%02d:%02d.%09dZ", (int)y, m, d, (int)(rem / 3600),
                          (int)(rem / 60 % 60), (int)(rem % 60), (int)nanos);
}
