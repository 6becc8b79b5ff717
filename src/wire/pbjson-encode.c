/* pbjson_encode(): protobuf-c message -> protobuf JSON, written straight into a
 * struct buf (no intermediate tree: the agent encodes every output chunk). The
 * presence rules mirror protobuf_c_message_pack(), so JSON and binary agree. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "jsonstr.h"
#include "pbjson-internal.h"
#include "pbjson.h"

struct enc {
        struct buf *b;
        struct nb_error *err;
        struct pbjson_path path;
};

_printf_(3, 4) static int enc_fail(struct enc *e, int code, const char *fmt, ...)
{
        char what[160];
        va_list ap;

        if (code == -ENOMEM)
                return nb_error_oom(e->err);
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (e->path.len == 0)
                return nb_error_set(e->err, code, "%s", what);
        return nb_error_set(e->err, code, "field '%s': %s", e->path.s, what);
}

static int put(struct enc *e, const char *s)
{
        return buf_append(e->b, s, strlen(s)) < 0 ? nb_error_oom(e->err) : 0;
}

_printf_(2, 3) static int putf(struct enc *e, const char *fmt, ...)
{
        char tmp[64];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return enc_fail(e, -EINVAL, "number formatting failed");
        return buf_append(e->b, tmp, (size_t)n) < 0 ? nb_error_oom(e->err) : 0;
}

/* Shortest text that reads back as the same value (what Go and JS print). */
static int enc_double(struct enc *e, double x, bool is_float)
{
        char tmp[40];

        if (isnan(x))
                return put(e, "\"NaN\"");
        if (isinf(x))
                return put(e, x > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*g", prec, x);
                if (is_float ? (float)strtod(tmp, NULL) == (float)x : strtod(tmp, NULL) == x)
                        break;
        }
        return put(e, tmp);
}

static int enc_string(struct enc *e, const char *s)
{
        int r;

        if (!s)
                s = "";
        r = jsonstr_append(e->b, s, strlen(s), false);
        if (r == -EILSEQ)
                /* Go's protojson refuses too; the caller decides how to sanitize (e.g. a file name). */
                return enc_fail(e, -EINVAL, "string is not valid UTF-8");
        return r < 0 ? nb_error_oom(e->err) : 0;
}

static int enc_message(struct enc *e, const ProtobufCMessage *m, unsigned depth);

static int enc_timestamp(struct enc *e, const ProtobufCMessage *m)
{
        const ProtobufCMessageDescriptor *d = m->descriptor;
        int64_t secs = PBJSON_CMEMBER(int64_t, m, d->fields[0].offset);
        int32_t nanos = PBJSON_CMEMBER(int32_t, m, d->fields[1].offset);
        int r;

        r = put(e, "\"");
        if (r < 0)
                return r;
        r = pbjson_timestamp_format(secs, nanos, e->b);
        if (r == -ENOMEM)
                return nb_error_oom(e->err);
        if (r < 0)
                return enc_fail(e, -EINVAL, "timestamp out of range (seconds=%lld, nanos=%d)",
                                (long long)secs, (int)nanos);
        return put(e, "\"");
}

/* Writes one value of f's type stored at p (a struct member or an array slot). */
static int enc_value(struct enc *e, const ProtobufCFieldDescriptor *f, const void *p, unsigned depth)
{
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                return putf(e, "%d", (int)*(const int32_t *)p);
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                return putf(e, "%u", (unsigned)*(const uint32_t *)p);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                /* 64-bit integers are strings: JS numbers lose precision past 2^53 (§3.2). */
                return putf(e, "\"%lld\"", (long long)*(const int64_t *)p);
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                return putf(e, "\"%llu\"", (unsigned long long)*(const uint64_t *)p);
        case PROTOBUF_C_TYPE_FLOAT:
                return enc_double(e, *(const float *)p, true);
        case PROTOBUF_C_TYPE_DOUBLE:
                return enc_double(e, *(const double *)p, false);
        case PROTOBUF_C_TYPE_BOOL:
                return put(e, *(const protobuf_c_boolean *)p ? "true" : "false");
        case PROTOBUF_C_TYPE_ENUM: {
                int32_t v = *(const int32_t *)p;
                const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);

                if (!ev)
                        return putf(e, "%d", (int)v);
                return enc_string(e, ev->name);
        }
        case PROTOBUF_C_TYPE_STRING:
                return enc_string(e, *(char *const *)p);
        case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *bd = p;
                int r;

                r = put(e, "\"");
                if (r >= 0 && bd->len > 0 && base64_encode(bd->data, bd->len, e->b) < 0)
                        r = nb_error_oom(e->err);
                if (r >= 0)
                        r = put(e, "\"");
                return r;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;

                /* NULL only reaches here as a map value: its default is the empty message. */
                if (!sub)
                        return pbjson_is_timestamp(f->descriptor) ? put(e, "\"1970-01-01T00:00:00Z\"")
                                                                  : put(e, "{}");
                return enc_message(e, sub, depth + 1);
        }
        }
        return enc_fail(e, -EINVAL, "unsupported field type %d", (int)f->type);
}

static bool is_zero(const ProtobufCFieldDescriptor *f, const void *p)
{
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: {
                const char *s = *(char *const *)p;
                return !s || !*s;
        }
        case PROTOBUF_C_TYPE_BYTES:
                return ((const ProtobufCBinaryData *)p)->len == 0;
        case PROTOBUF_C_TYPE_MESSAGE:
                return *(ProtobufCMessage *const *)p == NULL;
        case PROTOBUF_C_TYPE_BOOL:
                return *(const protobuf_c_boolean *)p == 0;
        case PROTOBUF_C_TYPE_FLOAT:
                return *(const uint32_t *)p == 0; /* -0.0 is not zero on the wire either */
        default: {
                uint64_t z = 0;
                return memcmp(p, &z, pbjson_element_size(f->type)) == 0;
        }
        }
}

/* Whether protobuf_c_message_pack() would put field f of m on the wire. */
static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
        const void *p = (const uint8_t *)m + f->offset;
        bool is_ptr = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;

        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                return PBJSON_CMEMBER(uint32_t, m, f->quantifier_offset) == f->id &&
                       (!is_ptr || (*(void *const *)p != NULL && *(void *const *)p != f->default_value));
        switch (f->label) {
        case PROTOBUF_C_LABEL_REPEATED:
                return PBJSON_CMEMBER(size_t, m, f->quantifier_offset) > 0;
        case PROTOBUF_C_LABEL_OPTIONAL:
                if (is_ptr)
                        return *(void *const *)p != NULL && *(void *const *)p != f->default_value;
                return PBJSON_CMEMBER(protobuf_c_boolean, m, f->quantifier_offset);
        case PROTOBUF_C_LABEL_REQUIRED:
                return !is_ptr || *(void *const *)p != NULL;
        case PROTOBUF_C_LABEL_NONE: /* proto3 implicit presence */
                return !is_zero(f, p);
        }
        return false;
}

static int enc_map_key(struct enc *e, const ProtobufCFieldDescriptor *kf, const void *p)
{
        int r;

        if (kf->type == PROTOBUF_C_TYPE_STRING)
                return enc_string(e, *(char *const *)p);
        if (kf->type == PROTOBUF_C_TYPE_BOOL)
                return put(e, *(const protobuf_c_boolean *)p ? "\"true\"" : "\"false\"");
        /* Integer keys are quoted; 64-bit values already are. */
        switch (kf->type) {
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                return enc_value(e, kf, p, 0);
        default:
                r = put(e, "\"");
                if (r >= 0)
                        r = enc_value(e, kf, p, 0);
                if (r >= 0)
                        r = put(e, "\"");
                return r;
        }
}

static int enc_map(struct enc *e, const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m,
                   unsigned depth)
{
        const ProtobufCMessageDescriptor *ed = f->descriptor;
        const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
        ProtobufCMessage **arr = PBJSON_CMEMBER(ProtobufCMessage **, m, f->offset);
        size_t n = PBJSON_CMEMBER(size_t, m, f->quantifier_offset);
        bool first = true;
        int r;

        r = put(e, "{");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const ProtobufCMessage *entry = arr[i];
                size_t mark;

                if (!entry)
                        continue;
                mark = pbjson_path_push_index(&e->path, i);
                r = put(e, first ? "" : ",");
                first = false;
                if (r >= 0)
                        r = enc_map_key(e, kf, (const uint8_t *)entry + kf->offset);
                if (r >= 0)
                        r = put(e, ":");
                if (r >= 0)
                        r = enc_value(e, vf, (const uint8_t *)entry + vf->offset, depth);
                pbjson_path_pop(&e->path, mark);
        }
        if (r >= 0)
                r = put(e, "}");
        return r;
}

static int enc_repeated(struct enc *e, const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m,
                        unsigned depth)
{
        const uint8_t *arr = PBJSON_CMEMBER(const uint8_t *, m, f->offset);
        size_t n = PBJSON_CMEMBER(size_t, m, f->quantifier_offset), es = pbjson_element_size(f->type);
        int r;

        if (pbjson_field_is_map(f))
                return enc_map(e, f, m, depth);
        r = put(e, "[");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                size_t mark = pbjson_path_push_index(&e->path, i);

                r = put(e, i ? "," : "");
                /* A NULL element cannot be packed either; write the default message. */
                if (r >= 0)
                        r = enc_value(e, f, arr + i * es, depth);
                pbjson_path_pop(&e->path, mark);
        }
        if (r >= 0)
                r = put(e, "]");
        return r;
}

static int enc_message(struct enc *e, const ProtobufCMessage *m, unsigned depth)
{
        const ProtobufCMessageDescriptor *desc = m->descriptor;
        bool first = true;
        int r;

        if (depth > PBJSON_MAX_DEPTH)
                return enc_fail(e, -EINVAL, "messages nested deeper than %d levels", PBJSON_MAX_DEPTH);
        if (pbjson_is_timestamp(desc))
                return enc_timestamp(e, m);
        r = put(e, "{");
        if (r < 0)
                return r;
        /* protoc-c lists fields by number: the order Go's protojson prints them in. */
        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &desc->fields[i];
                size_t mark;

                if (!field_present(m, f))
                        continue;
                mark = pbjson_path_push_field(&e->path, f->name);
                r = put(e, first ? "\"" : ",\"");
                first = false;
                if (r >= 0 && pbjson_json_name_append(e->b, f->name) < 0)
                        r = nb_error_oom(e->err);
                if (r >= 0)
                        r = put(e, "\":");
                if (r >= 0)
                        r = f->label == PROTOBUF_C_LABEL_REPEATED
                                    ? enc_repeated(e, f, m, depth)
                                    : enc_value(e, f, (const uint8_t *)m + f->offset, depth);
                if (r < 0)
                        return r;
                pbjson_path_pop(&e->path, mark);
        }
        return put(e, "}");
}

int pbjson_encode(const ProtobufCMessage *msg, struct buf *out, struct nb_error *err)
{
        struct enc e = {.b = out, .err = err};
        size_t start;
        int r;

        /* Take the rollback mark after buf_reserve(), which may compact the buffer. */
        if (buf_reserve(out, 64) < 0)
                return nb_error_oom(err);
        start = out->len;
        r = enc_message(&e, msg, 1);
        if (r < 0)
                out->len = start;
        return r;
}
