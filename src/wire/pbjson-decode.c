/* pbjson_decode(): protobuf JSON -> protobuf-c message, driven by the descriptor.
 * The message is built exactly as protobuf_c_message_unpack() would build it
 * (malloc, message_init, malloc'd strings/bytes/arrays) and kept consistent at
 * every step, so protobuf_c_message_free_unpacked() can free it on any error. */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "pbjson-internal.h"
#include "pbjson.h"

struct dec {
        struct nb_error *err;
        struct pbjson_path path;
};

enum {
        DEC_SET = 0,     /* value stored */
        DEC_IGNORED = 1, /* value dropped (unknown enum name), field stays absent */
};

static void message_freep(ProtobufCMessage **m)
{
        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}

_printf_(2, 3) static int dec_fail(struct dec *d, const char *fmt, ...)
{
        char what[160];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (d->path.len == 0)
                return nb_error_set(d->err, -EINVAL, "%s", what);
        return nb_error_set(d->err, -EINVAL, "field '%s': %s", d->path.s, what);
}

static const char *json_type_name(const json_t *v)
{
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
        case JSON_REAL:
                return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        }
        return "?";
}

/* Decimal integer text: optional '-', then digits only (protobuf-es and Go agree). */
static bool parse_decimal(const char *s, bool allow_minus, bool *ret_neg, uint64_t *ret_abs)
{
        uint64_t v = 0;
        bool neg = false;

        if (*s == '-' && allow_minus) {
                neg = true;
                s++;
        }
        if (!*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        *ret_neg = neg;
        *ret_abs = v;
        return true;
}

static int json_to_signed(struct dec *d, const json_t *v, int64_t min, int64_t max, int64_t *ret)
{
        int64_t x;

        if (json_is_integer(v))
                x = json_integer_value(v);
        else if (json_is_real(v)) {
                double r = json_real_value(v);

                /* 1.0 and 1e3 are integers in the JSON mapping; 1.5 is not. Range first: the
                 * cast is undefined outside it. (No trunc(): libwire does not link libm.) */
                if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0) || (double)(int64_t)r != r)
                        return dec_fail(d, "expected an integer in [%lld, %lld]", (long long)min,
                                        (long long)max);
                x = (int64_t)r;
        } else if (json_is_string(v)) {
                uint64_t a;
                bool neg;

                if (!parse_decimal(json_string_value(v), true, &neg, &a) ||
                    (neg ? a > (uint64_t)INT64_MAX + 1 : a > (uint64_t)INT64_MAX))
                        return dec_fail(d, "expected an integer in [%lld, %lld]", (long long)min,
                                        (long long)max);
                x = neg ? (int64_t)(0 - a) : (int64_t)a;
        } else
                return dec_fail(d, "expected an integer, got %s", json_type_name(v));
        if (x < min || x > max)
                return dec_fail(d, "integer out of range [%lld, %lld]", (long long)min, (long long)max);
        *ret = x;
        return 0;
}

static int json_to_unsigned(struct dec *d, const json_t *v, uint64_t max, uint64_t *ret)
{
        uint64_t x;

        if (json_is_integer(v)) {
                json_int_t i = json_integer_value(v);
                if (i < 0)
                        return dec_fail(d, "integer out of range [0, %llu]", (unsigned long long)max);
                x = (uint64_t)i;
        } else if (json_is_real(v)) {
                double r = json_real_value(v);

                if (!(r >= 0 && r < 18446744073709551616.0) || (double)(uint64_t)r != r)
                        return dec_fail(d, "expected an integer in [0, %llu]", (unsigned long long)max);
                x = (uint64_t)r;
        } else if (json_is_string(v)) {
                bool neg;

                if (!parse_decimal(json_string_value(v), false, &neg, &x))
                        return dec_fail(d, "expected an integer in [0, %llu]", (unsigned long long)max);
        } else
                return dec_fail(d, "expected an integer, got %s", json_type_name(v));
        if (x > max)
                return dec_fail(d, "integer out of range [0, %llu]", (unsigned long long)max);
        *ret = x;
        return 0;
}

static int json_to_double(struct dec *d, const json_t *v, bool is_float, double *ret)
{
        double x;

        if (json_is_number(v))
                x = json_number_value(v);
        else if (json_is_string(v)) {
                const char *s = json_string_value(v);
                char *end;

                if (strcmp(s, "NaN") == 0)
                        x = NAN;
                else if (strcmp(s, "Infinity") == 0)
                        x = INFINITY;
                else if (strcmp(s, "-Infinity") == 0)
                        x = -INFINITY;
                else {
                        /* strtod() also takes hex, "inf", spaces: only plain decimal here. */
                        if (!*s || strspn(s, "0123456789.eE+-") != strlen(s))
                                return dec_fail(d, "expected a number");
                        errno = 0;
                        x = strtod(s, &end);
                        if (*end || errno == ERANGE || !isfinite(x))
                                return dec_fail(d, "expected a number");
                }
        } else
                return dec_fail(d, "expected a number, got %s", json_type_name(v));
        if (is_float && isfinite(x) && (x > FLT_MAX || x < -FLT_MAX))
                return dec_fail(d, "number out of float range");
        *ret = x;
        return 0;
}

static ProtobufCMessage *message_new(const ProtobufCMessageDescriptor *desc)
{
        ProtobufCMessage *m = malloc(desc->sizeof_message);

        if (m)
                protobuf_c_message_init(desc, m);
        return m;
}

static int dec_message(struct dec *d, const ProtobufCMessageDescriptor *desc, const json_t *obj,
                       unsigned depth, ProtobufCMessage **ret);

static int dec_timestamp(struct dec *d, const ProtobufCMessageDescriptor *desc, const json_t *v,
                         ProtobufCMessage **ret)
{
        const ProtobufCFieldDescriptor *fs = &desc->fields[0], *fn = &desc->fields[1];
        ProtobufCMessage *m;
        int64_t secs;
        int32_t nanos;

        if (!json_is_string(v))
                return dec_fail(d, "expected an RFC 3339 timestamp string, got %s", json_type_name(v));
        if (pbjson_timestamp_parse(json_string_value(v), json_string_length(v), &secs, &nanos) < 0)
                return dec_fail(d, "invalid RFC 3339 timestamp '%.40s'", json_string_value(v));
        m = message_new(desc);
        if (!m)
                return nb_error_oom(d->err);
        PBJSON_MEMBER(int64_t, m, fs->offset) = secs;
        PBJSON_MEMBER(int32_t, m, fn->offset) = nanos;
        if (fs->label == PROTOBUF_C_LABEL_OPTIONAL)
                PBJSON_MEMBER(protobuf_c_boolean, m, fs->quantifier_offset) = 1;
        if (fn->label == PROTOBUF_C_LABEL_OPTIONAL)
                PBJSON_MEMBER(protobuf_c_boolean, m, fn->quantifier_offset) = 1;
        *ret = m;
        return 0;
}

/* Decodes one value of field f's type into dst (a struct member or an array slot).
 * dst is written only on success, so a failure leaves the message freeable. */
static int dec_value(struct dec *d, const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                     unsigned depth)
{
        int64_t i;
        uint64_t u;
        double x;
        int r;

        if (json_is_null(v))
                return dec_fail(d, "null is not allowed here");
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                r = json_to_signed(d, v, INT32_MIN, INT32_MAX, &i);
                if (r < 0)
                        return r;
                *(int32_t *)dst = (int32_t)i;
                return DEC_SET;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                r = json_to_unsigned(d, v, UINT32_MAX, &u);
                if (r < 0)
                        return r;
                *(uint32_t *)dst = (uint32_t)u;
                return DEC_SET;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                r = json_to_signed(d, v, INT64_MIN, INT64_MAX, &i);
                if (r < 0)
                        return r;
                *(int64_t *)dst = i;
                return DEC_SET;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                r = json_to_unsigned(d, v, UINT64_MAX, &u);
                if (r < 0)
                        return r;
                *(uint64_t *)dst = u;
                return DEC_SET;
        case PROTOBUF_C_TYPE_FLOAT:
                r = json_to_double(d, v, true, &x);
                if (r < 0)
                        return r;
                *(float *)dst = (float)x;
                return DEC_SET;
        case PROTOBUF_C_TYPE_DOUBLE:
                r = json_to_double(d, v, false, &x);
                if (r < 0)
                        return r;
                *(double *)dst = x;
                return DEC_SET;
        case PROTOBUF_C_TYPE_BOOL:
                if (!json_is_boolean(v))
                        return dec_fail(d, "expected a boolean, got %s", json_type_name(v));
                *(protobuf_c_boolean *)dst = json_is_true(v);
                return DEC_SET;
        case PROTOBUF_C_TYPE_ENUM: {
                const ProtobufCEnumValue *ev;

                if (!json_is_string(v)) {
                        r = json_to_signed(d, v, INT32_MIN, INT32_MAX, &i);
                        if (r < 0)
                                return r;
                        *(int32_t *)dst = (int32_t)i;
                        return DEC_SET;
                }
                ev = protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, json_string_value(v));
                if (!ev)
                        /* connect's ignoreUnknownFields (and Go's DiscardUnknown) drop unknown names. */
                        return DEC_IGNORED;
                *(int32_t *)dst = ev->value;
                return DEC_SET;
        }
        case PROTOBUF_C_TYPE_STRING: {
                char *s;

                if (!json_is_string(v))
                        return dec_fail(d, "expected a string, got %s", json_type_name(v));
                /* jansson has checked UTF-8 and refused \u0000 (no JSON_ALLOW_NUL). */
                s = strndup(json_string_value(v), json_string_length(v));
                if (!s)
                        return nb_error_oom(d->err);
                *(char **)dst = s;
                return DEC_SET;
        }
        case PROTOBUF_C_TYPE_BYTES: {
                struct buf b = {0};

                if (!json_is_string(v))
                        return dec_fail(d, "expected a base64 string, got %s", json_type_name(v));
                r = base64_decode(json_string_value(v), json_string_length(v), &b);
                if (r < 0)
                        buf_done(&b); /* it may have reserved room before finding a bad character */
                if (r == -ENOMEM)
                        return nb_error_oom(d->err);
                if (r < 0)
                        return dec_fail(d, "invalid base64");
                *(ProtobufCBinaryData *)dst = (ProtobufCBinaryData){.len = b.len, .data = b.data};
                return DEC_SET;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessageDescriptor *sub = f->descriptor;
                ProtobufCMessage *m = NULL;

                if (pbjson_is_timestamp(sub))
                        r = dec_timestamp(d, sub, v, &m);
                else
                        r = dec_message(d, sub, v, depth + 1, &m);
                if (r < 0)
                        return r;
                *(ProtobufCMessage **)dst = m;
                return DEC_SET;
        }
        }
        return dec_fail(d, "unsupported field type %d", (int)f->type);
}

/* Records presence the way protobuf-c's unpack does. */
static void mark_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                PBJSON_MEMBER(uint32_t, m, f->quantifier_offset) = f->id;
        else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
                 f->type != PROTOBUF_C_TYPE_MESSAGE)
                PBJSON_MEMBER(protobuf_c_boolean, m, f->quantifier_offset) = 1;
}

/* Map keys are JSON object keys, i.e. strings, whatever the key type. */
static int dec_map_key(struct dec *d, const ProtobufCFieldDescriptor *kf, const char *key, void *dst)
{
        json_t *k;
        int r;

        switch (kf->type) {
        case PROTOBUF_C_TYPE_STRING: {
                char *s = strdup(key);
                if (!s)
                        return nb_error_oom(d->err);
                *(char **)dst = s;
                return 0;
        }
        case PROTOBUF_C_TYPE_BOOL:
                if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
                        return dec_fail(d, "map key must be \"true\" or \"false\"");
                *(protobuf_c_boolean *)dst = strcmp(key, "true") == 0;
                return 0;
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                /* Integer keys parse exactly like integers sent as strings. */
                k = json_string(key);
                if (!k)
                        return nb_error_oom(d->err);
                r = dec_value(d, kf, k, dst, 0);
                json_decref(k);
                return r < 0 ? r : 0;
        default:
                return dec_fail(d, "unsupported map key type");
        }
}

static int dec_map(struct dec *d, const ProtobufCFieldDescriptor *f, const json_t *obj, ProtobufCMessage *m,
                   unsigned depth)
{
        const ProtobufCMessageDescriptor *ed = f->descriptor;
        const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
        ProtobufCMessage **arr;
        const char *key;
        json_t *v;
        size_t n;
        int r;

        if (!json_is_object(obj))
                return dec_fail(d, "expected an object (map), got %s", json_type_name(obj));
        n = json_object_size(obj);
        if (n == 0)
                return 0;
        arr = calloc(n, sizeof(*arr));
        if (!arr)
                return nb_error_oom(d->err);
        /* The array belongs to m from here on; the count grows with each whole entry. */
        PBJSON_MEMBER(ProtobufCMessage **, m, f->offset) = arr;
        PBJSON_MEMBER(size_t, m, f->quantifier_offset) = 0;
        json_object_foreach((json_t *)obj, key, v)
        {
                _cleanup_(message_freep) ProtobufCMessage *e = message_new(ed);
                size_t mark = pbjson_path_push_key(&d->path, key);

                if (!e)
                        return nb_error_oom(d->err);
                r = dec_map_key(d, kf, key, (uint8_t *)e + kf->offset);
                if (r < 0)
                        return r;
                mark_present(e, kf);
                r = dec_value(d, vf, v, (uint8_t *)e + vf->offset, depth);
                if (r < 0)
                        return r;
                pbjson_path_pop(&d->path, mark);
                if (r == DEC_IGNORED)
                        continue;
                mark_present(e, vf);
                arr[PBJSON_MEMBER(size_t, m, f->quantifier_offset)++] = TAKE_PTR(e);
        }
        return 0;
}

static int dec_repeated(struct dec *d, const ProtobufCFieldDescriptor *f, const json_t *a,
                        ProtobufCMessage *m, unsigned depth)
{
        size_t es = pbjson_element_size(f->type), n;
        uint8_t *arr;
        int r;

        if (pbjson_field_is_map(f))
                return dec_map(d, f, a, m, depth);
        if (!json_is_array(a))
                return dec_fail(d, "expected an array, got %s", json_type_name(a));
        n = json_array_size(a);
        if (n == 0)
                return 0;
        arr = calloc(n, es);
        if (!arr)
                return nb_error_oom(d->err);
        PBJSON_MEMBER(void *, m, f->offset) = arr;
        PBJSON_MEMBER(size_t, m, f->quantifier_offset) = 0;
        for (size_t i = 0; i < n; i++) {
                size_t *count = &PBJSON_MEMBER(size_t, m, f->quantifier_offset);
                size_t mark = pbjson_path_push_index(&d->path, i);

                r = dec_value(d, f, json_array_get(a, i), arr + *count * es, depth);
                if (r < 0)
                        return r;
                pbjson_path_pop(&d->path, mark);
                if (r == DEC_SET)
                        (*count)++;
        }
        return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc, const char *key,
                                                  unsigned *ret_index)
{
        const ProtobufCFieldDescriptor *f;

        /* JSON name first (what clients send), then the proto name, as protobuf-es does. */
        for (unsigned i = 0; i < desc->n_fields; i++)
                if (pbjson_json_name_eq(desc->fields[i].name, key)) {
                        *ret_index = i;
                        return &desc->fields[i];
                }
        f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
        if (f)
                *ret_index = (unsigned)(f - desc->fields);
        return f;
}

static int dec_message(struct dec *d, const ProtobufCMessageDescriptor *desc, const json_t *obj,
                       unsigned depth, ProtobufCMessage **ret)
{
        _cleanup_(message_freep) ProtobufCMessage *m = NULL;
        _cleanup_free_ bool *seen = NULL;
        const char *key;
        json_t *v;
        int r;

        if (depth > PBJSON_MAX_DEPTH)
                return dec_fail(d, "nested deeper than %d levels", PBJSON_MAX_DEPTH);
        if (!json_is_object(obj))
                return dec_fail(d, "expected an object, got %s", json_type_name(obj));
        m = message_new(desc);
        seen = calloc(desc->n_fields ? desc->n_fields : 1, sizeof(bool));
        if (!m || !seen)
                return nb_error_oom(d->err);
        json_object_foreach((json_t *)obj, key, v)
        {
                const ProtobufCFieldDescriptor *f;
                unsigned idx;
                size_t mark;

                f = find_field(desc, key, &idx);
                if (!f)
                        continue; /* ignoreUnknownFields (§3.2) */
                mark = pbjson_path_push_field(&d->path, f->name);
                if (seen[idx])
                        return dec_fail(d, "set twice (JSON and proto names)");
                seen[idx] = true;
                if (json_is_null(v)) {
                        pbjson_path_pop(&d->path, mark);
                        continue;
                }
                if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                    PBJSON_MEMBER(uint32_t, m, f->quantifier_offset) != 0)
                        return dec_fail(d, "another member of the same oneof is already set");
                if (f->label == PROTOBUF_C_LABEL_REPEATED)
                        r = dec_repeated(d, f, v, m, depth);
                else {
                        r = dec_value(d, f, v, (uint8_t *)m + f->offset, depth);
                        if (r == DEC_SET)
                                mark_present(m, f);
                }
                if (r < 0)
                        return r;
                pbjson_path_pop(&d->path, mark);
        }
        *ret = TAKE_PTR(m);
        return 0;
}

/* jansson nests up to 2048 levels; we stop much earlier and before building any tree. */
static bool depth_ok(const char *s, size_t n)
{
        bool in_string = false;
        unsigned depth = 0;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (in_string) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_string = false;
                } else if (c == '"')
                        in_string = true;
                else if (c == '{' || c == '[') {
                        if (++depth > PBJSON_MAX_DEPTH)
                                return false;
                } else if ((c == '}' || c == ']') && depth > 0)
                        depth--;
        }
        return true;
}

int pbjson_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                  ProtobufCMessage **ret, struct nb_error *err)
{
        json_auto_t *root = NULL;
        struct dec d = {.err = err};
        json_error_t je;

        if (!json || len == 0)
                return nb_error_set(err, -EINVAL, "empty body is not a JSON object");
        if (!depth_ok(json, len))
                return nb_error_set(err, -EINVAL, "JSON nested deeper than %d levels", PBJSON_MAX_DEPTH);
        /* Duplicate keys are refused like bufbuild refuses a field set twice. */
        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
        /* jansson 2.14 leaves the error empty when its lexer cannot allocate its buffer. */
        if (!root && (json_error_code(&je) == json_error_out_of_memory || je.text[0] == 0))
                return nb_error_oom(err);
        if (!root)
                return nb_error_set(err, -EINVAL, "invalid JSON at line %d column %d: %s", je.line,
                                    je.column, je.text);
        if (!json_is_object(root))
                return nb_error_set(err, -EINVAL, "expected a JSON object for %s", desc->name);
        return dec_message(&d, desc, root, 1, ret);
}
