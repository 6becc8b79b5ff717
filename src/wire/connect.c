/* Connect protocol framing and error vocabulary (protocol.md §3.1). No I/O:
 * callers own sockets; these functions only build and parse bytes. */
#include "connect.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "jsonstr.h"
#include "pbjson.h"

static const struct {
        const char *name;
        int http_status;
} codes[_CONNECT_CODE_MAX] = {
        [CONNECT_OK] = {"ok", 200},
        [CONNECT_CANCELED] = {"canceled", 499},
        [CONNECT_UNKNOWN] = {"unknown", 500},
        [CONNECT_INVALID_ARGUMENT] = {"invalid_argument", 400},
        [CONNECT_DEADLINE_EXCEEDED] = {"deadline_exceeded", 504},
        [CONNECT_NOT_FOUND] = {"not_found", 404},
        [CONNECT_ALREADY_EXISTS] = {"already_exists", 409},
        [CONNECT_PERMISSION_DENIED] = {"permission_denied", 403},
        [CONNECT_RESOURCE_EXHAUSTED] = {"resource_exhausted", 429},
        [CONNECT_FAILED_PRECONDITION] = {"failed_precondition", 400},
        [CONNECT_ABORTED] = {"aborted", 409},
        [CONNECT_OUT_OF_RANGE] = {"out_of_range", 400},
        [CONNECT_UNIMPLEMENTED] = {"unimplemented", 501},
        [CONNECT_INTERNAL] = {"internal", 500},
        [CONNECT_UNAVAILABLE] = {"unavailable", 503},
        [CONNECT_DATA_LOSS] = {"data_loss", 500},
        [CONNECT_UNAUTHENTICATED] = {"unauthenticated", 401},
};

const char *connect_code_name(enum connect_code c)
{
        if ((unsigned)c >= _CONNECT_CODE_MAX)
                return "unknown";
        return codes[c].name;
}

int connect_code_from_name(const char *name, enum connect_code *ret)
{
        if (!name)
                return -EINVAL;
        for (unsigned i = 0; i < _CONNECT_CODE_MAX; i++)
                if (strcmp(codes[i].name, name) == 0) {
                        *ret = (enum connect_code)i;
                        return 0;
                }
        return -EINVAL;
}

int connect_code_http_status(enum connect_code c)
{
        if ((unsigned)c >= _CONNECT_CODE_MAX)
                return 500;
        return codes[c].http_status;
}

enum connect_code connect_code_from_http_status(int status)
{
        switch (status) {
        case 200:
                return CONNECT_OK;
        case 400:
                return CONNECT_INTERNAL;
        case 401:
                return CONNECT_UNAUTHENTICATED;
        case 403:
                return CONNECT_PERMISSION_DENIED;
        case 404:
                return CONNECT_UNIMPLEMENTED;
        case 429:
        case 502:
        case 503:
        case 504:
                return CONNECT_UNAVAILABLE;
        default:
                return CONNECT_UNKNOWN;
        }
}

enum connect_code connect_code_from_errno(int negative_errno)
{
        switch (negative_errno) {
        case 0:
                return CONNECT_OK;
        case -ENOENT:
                return CONNECT_NOT_FOUND;
        case -EINVAL:
        case -ENOTDIR:
        case -EISDIR:
                return CONNECT_INVALID_ARGUMENT;
        case -EEXIST:
                return CONNECT_ALREADY_EXISTS;
        case -EACCES:
        case -EPERM:
                return CONNECT_PERMISSION_DENIED;
        case -ENOSPC:
                return CONNECT_RESOURCE_EXHAUSTED;
        case -ETIMEDOUT:
                return CONNECT_DEADLINE_EXCEEDED;
#if EOPNOTSUPP != ENOTSUP
        case -EOPNOTSUPP:
#endif
        case -ENOTSUP:
                return CONNECT_UNIMPLEMENTED;
        default:
                return CONNECT_INTERNAL;
        }
}

int connect_envelope_append(struct buf *b, uint8_t flags, const void *payload, size_t n)
{
        uint8_t h[CONNECT_ENVELOPE_HEADER_SIZE];
        int r;

        if (n > CONNECT_ENVELOPE_MAX)
                return -EMSGSIZE;
        h[0] = flags;
        h[1] = (uint8_t)(n >> 24);
        h[2] = (uint8_t)(n >> 16);
        h[3] = (uint8_t)(n >> 8);
        h[4] = (uint8_t)n;
        r = buf_reserve(b, sizeof(h) + n);
        if (r < 0)
                return r;
        /* Cannot fail after the reservation: header and payload land together. */
        (void)buf_append(b, h, sizeof(h));
        (void)buf_append(b, payload, n);
        return 0;
}

int connect_envelope_parse(const uint8_t *p, size_t n, uint8_t *ret_flags, const uint8_t **ret_payload,
                           uint32_t *ret_len)
{
        uint32_t len;

        if (n < CONNECT_ENVELOPE_HEADER_SIZE)
                return 0;
        /* We never negotiate compression (§3.1), and bits above 0x02 are undefined. */
        if (p[0] & ~CONNECT_FLAG_END_STREAM)
                return -EBADMSG;
        len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        if (len > CONNECT_ENVELOPE_MAX)
                return -EBADMSG;
        if (n - CONNECT_ENVELOPE_HEADER_SIZE < len)
                return 0;
        *ret_flags = p[0];
        *ret_payload = p + CONNECT_ENVELOPE_HEADER_SIZE;
        *ret_len = len;
        return 1;
}

/* {"code":"<name>"[,"message":"<message>"]} */
static int error_object_append(struct buf *b, enum connect_code code, const char *message)
{
        int r;

        r = buf_printf(b, "{\"code\":\"%s\"", connect_code_name(code));
        if (r < 0)
                return r;
        if (message) {
                r = buf_append(b, ",\"message\":", 11);
                if (r < 0)
                        return r;
                /* Lossy: an error text may quote a file name that is not UTF-8. */
                r = jsonstr_append(b, message, strlen(message), true);
                if (r < 0)
                        return r;
        }
        return buf_append(b, "}", 1);
}

int connect_end_stream_append(struct buf *b, enum connect_code code, const char *message)
{
        struct buf json = {0};
        int r;

        if (code == CONNECT_OK)
                return connect_envelope_append(b, CONNECT_FLAG_END_STREAM, "{}", 2);
        r = buf_append(&json, "{\"error\":", 9);
        if (r >= 0)
                r = error_object_append(&json, code, message);
        if (r >= 0)
                r = buf_append(&json, "}", 1);
        if (r >= 0)
                r = connect_envelope_append(b, CONNECT_FLAG_END_STREAM, json.data, json.len);
        buf_done(&json);
        return r;
}

int connect_unary_error_json(struct buf *b, enum connect_code code, const char *message)
{
        size_t start;
        int r;

        if (code == CONNECT_OK || (unsigned)code >= _CONNECT_CODE_MAX)
                return -EINVAL;
        r = buf_reserve(b, 64);
        if (r < 0)
                return r;
        start = b->len;
        r = error_object_append(b, code, message);
        if (r < 0)
                b->len = start;
        return r;
}

static bool media_type_eq(const char *s, size_t n, const char *want)
{
        return strlen(want) == n && strncasecmp(s, want, n) == 0;
}

static const char *skip_ows(const char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        return s;
}

int connect_parse_content_type(const char *ct, bool *ret_streaming, enum connect_codec *ret_codec)
{
        static const struct {
                const char *type;
                bool streaming;
                enum connect_codec codec;
        } types[] = {
                {"application/json", false, CONNECT_CODEC_JSON},
                {"application/proto", false, CONNECT_CODEC_PROTO},
                {"application/connect+json", true, CONNECT_CODEC_JSON},
                {"application/connect+proto", true, CONNECT_CODEC_PROTO},
        };
        const char *end, *semi;
        size_t n;

        if (!ct)
                return -EINVAL;
        ct = skip_ows(ct);
        semi = strchr(ct, ';');
        end = semi ? semi : ct + strlen(ct);
        while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        n = (size_t)(end - ct);
        if (semi) {
                /* Only `charset=utf-8` (any case, optional quotes) is a parameter we can honour. */
                const char *p = skip_ows(semi + 1);
                size_t plen;

                if (strncasecmp(p, "charset=", 8) != 0)
                        return -EINVAL;
                p += 8;
                plen = strcspn(p, " \t");
                if (!(plen == 5 && strncasecmp(p, "utf-8", 5) == 0) &&
                    !(plen == 7 && strncasecmp(p, "\"utf-8\"", 7) == 0))
                        return -EINVAL;
                if (*skip_ows(p + plen) != '\0')
                        return -EINVAL;
        }
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
                if (media_type_eq(ct, n, types[i].type)) {
                        *ret_streaming = types[i].streaming;
                        *ret_codec = types[i].codec;
                        return 0;
                }
        return -EINVAL;
}

const char *connect_content_type(bool streaming, enum connect_codec codec)
{
        if (streaming)
                return codec == CONNECT_CODEC_PROTO ? "application/connect+proto"
                                                    : "application/connect+json";
        return codec == CONNECT_CODEC_PROTO ? "application/proto" : "application/json";
}

int connect_parse_timeout_ms(const char *v, uint64_t *ret_ms)
{
        uint64_t ms = 0;
        size_t i;

        if (!v)
                return -EINVAL;
        /* The Connect spec caps the header at 10 digits; no sign, no spaces. */
        for (i = 0; v[i]; i++) {
                if (i >= 10 || v[i] < '0' || v[i] > '9')
                        return -EINVAL;
                ms = ms * 10 + (uint64_t)(v[i] - '0');
        }
        if (i == 0)
                return -EINVAL;
        *ret_ms = ms;
        return 0;
}

int connect_message_decode(enum connect_codec codec, const ProtobufCMessageDescriptor *desc,
                           const uint8_t *p, size_t n, ProtobufCMessage **ret, struct nb_error *err)
{
        ProtobufCMessage *m;

        if (codec == CONNECT_CODEC_JSON)
                return pbjson_decode(desc, (const char *)p, n, ret, err);
        m = protobuf_c_message_unpack(desc, NULL, n, p);
        if (!m)
                return nb_error_set(err, -EINVAL, "cannot decode %s from binary protobuf", desc->name);
        *ret = m;
        return 0;
}

int connect_message_encode(enum connect_codec codec, const ProtobufCMessage *msg, struct buf *out,
                           struct nb_error *err)
{
        size_t n;
        int r;

        if (codec == CONNECT_CODEC_JSON)
                return pbjson_encode(msg, out, err);
        n = protobuf_c_message_get_packed_size(msg);
        r = buf_reserve(out, n);
        if (r < 0)
                return nb_error_oom(err);
        out->len += protobuf_c_message_pack(msg, out->data + out->len);
        return 0;
}
