/* Connect RPC plumbing (see rpc.h). */
#include "rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int rpc_begin(struct conn *c, bool streaming, struct rpc *ret)
{
        const char *ct = conn_header(c, "content-type");
        bool is_streaming;
        enum connect_codec codec;

        if (strcmp(c->method, "POST") != 0) {
                conn_reply_error(c, 405, "method %.16s is not allowed on '%.128s'", c->method, c->path);
                return -EINVAL;
        }
        if (connect_parse_content_type(ct, &is_streaming, &codec) < 0 || is_streaming != streaming) {
                /* What connect-go answers for a content type it does not serve. */
                conn_reply_error(c, 415, "unsupported content type '%.64s' for %s call", ct ? ct : "",
                                 streaming ? "a streaming" : "a unary");
                return -EINVAL;
        }
        *ret = (struct rpc){.c = c, .streaming = streaming, .codec = codec};
        return 0;
}

int rpc_decode(struct rpc *r, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret)
{
        struct nb_error err = {0};
        const uint8_t *p = buf_head(&r->c->body);
        size_t n = buf_avail(&r->c->body);
        int k;

        if (r->streaming) {
                const uint8_t *payload;
                uint8_t flags;
                uint32_t len;

                k = connect_envelope_parse(p, n, &flags, &payload, &len);
                if (k <= 0 || flags != 0 || CONNECT_ENVELOPE_HEADER_SIZE + (size_t)len != n) {
                        rpc_error(r, CONNECT_INVALID_ARGUMENT, "request body must be exactly one envelope");
                        return -EINVAL;
                }
                p = payload;
                n = len;
        } else if (n == 0 && r->codec == CONNECT_CODEC_JSON) {
                /* An empty unary JSON body is the empty message, as connect-go reads it. */
                p = (const uint8_t *)"{}";
                n = 2;
        }
        k = connect_message_decode(r->codec, desc, p, n, ret, &err);
        if (k < 0) {
                if (k == -ENOMEM)
                        rpc_error(r, CONNECT_RESOURCE_EXHAUSTED, "out of memory decoding the request");
                else
                        rpc_error(r, CONNECT_INVALID_ARGUMENT, "invalid %s: %s", desc->name, err.message);
                return k;
        }
        return 0;
}

void rpc_reply(struct rpc *r, const ProtobufCMessage *msg)
{
        struct nb_error err = {0};
        struct buf b = {0};

        if (connect_message_encode(r->codec, msg, &b, &err) < 0) {
                buf_done(&b);
                log_error("Failed to encode a %s reply: %s", msg->descriptor->name, err.message);
                rpc_error(r, CONNECT_INTERNAL, "cannot encode the reply: %s", err.message);
                return;
        }
        conn_reply(r->c, 200, connect_content_type(false, r->codec), buf_head(&b), buf_avail(&b));
        buf_done(&b);
}

static void rpc_error_message(struct conn *c, bool streaming, enum connect_codec codec, enum connect_code code,
                              const char *message)
{
        struct buf b = {0};

        if (streaming) {
                rpc_stream_open(c, codec);
                rpc_stream_close(c, code, message);
                return;
        }
        if (connect_unary_error_json(&b, code, message) < 0) {
                buf_done(&b);
                conn_kill(c);
                return;
        }
        conn_reply(c, connect_code_http_status(code), "application/json", buf_head(&b), buf_avail(&b));
        buf_done(&b);
}

void rpc_error(struct rpc *r, enum connect_code code, const char *fmt, ...)
{
        char message[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        rpc_error_message(r->c, r->streaming, r->codec, code, message);
}

void rpc_error_errno(struct rpc *r, int negative_errno, const char *message)
{
        rpc_error_message(r->c, r->streaming, r->codec, connect_code_from_errno(negative_errno), message);
}

void rpc_reply_unimplemented(struct conn *c, const char *message)
{
        const char *ct = conn_header(c, "content-type");
        enum connect_codec codec = CONNECT_CODEC_JSON;
        bool streaming = false;

        (void)connect_parse_content_type(ct, &streaming, &codec);
        rpc_error_message(c, streaming, codec, CONNECT_UNIMPLEMENTED, message);
}

void rpc_stream_open(struct conn *c, enum connect_codec codec)
{
        if (!c->resp_started)
                conn_reply_head(c, 200, connect_content_type(true, codec), -1);
}

int rpc_stream_send(struct conn *c, enum connect_codec codec, const ProtobufCMessage *msg)
{
        static const uint8_t placeholder[CONNECT_ENVELOPE_HEADER_SIZE];
        struct nb_error err = {0};
        struct buf env = {0};
        size_t len;
        int r;

        /* Encode straight behind a placeholder header, then patch the length in. */
        r = buf_append(&env, placeholder, sizeof(placeholder));
        if (r >= 0)
                r = connect_message_encode(codec, msg, &env, &err);
        if (r < 0) {
                log_error("Failed to encode a %s stream message: %s", msg->descriptor->name,
                          err.message[0] ? err.message : "out of memory");
                buf_done(&env);
                return r;
        }
        len = env.len - CONNECT_ENVELOPE_HEADER_SIZE;
        env.data[1] = (uint8_t)(len >> 24);
        env.data[2] = (uint8_t)(len >> 16);
        env.data[3] = (uint8_t)(len >> 8);
        env.data[4] = (uint8_t)len;
        conn_reply_body(c, env.data, env.len);
        buf_done(&env);
        return 0;
}

void rpc_stream_close(struct conn *c, enum connect_code code, const char *message)
{
        struct buf b = {0};

        rpc_stream_open(c, CONNECT_CODEC_JSON);
        if (connect_end_stream_append(&b, code, message) < 0) {
                buf_done(&b);
                conn_kill(c);
                return;
        }
        conn_reply_body(c, buf_head(&b), buf_avail(&b));
        conn_reply_end(c);
        buf_done(&b);
}
