/* Connect RPC plumbing for the agent (protocol.md §3.1): content types, request
 * decoding in either codec, unary replies and errors, and server-stream
 * envelopes. One handler code path serves JSON and binary protobuf; errors
 * always leave in the shape of the call (unary status table, or HTTP 200 +
 * end-of-stream envelope for streams). */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "../wire/connect.h"
#include "conn.h"

/** What one call negotiated. */
struct rpc {
        struct conn *c;
        bool streaming;
        enum connect_codec codec;
};

/** Checks method (POST) and Content-Type against the RPC's kind. On mismatch it
 *  answers (405/415) and returns -EINVAL. */
int rpc_begin(struct conn *c, bool streaming, struct rpc *ret);

/** Decodes the request from c->body: the whole body for unary calls, exactly one
 *  envelope for server-streaming ones. On failure it answers invalid_argument and
 *  returns < 0. */
int rpc_decode(struct rpc *r, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret);

/** Unary success: 200 with msg in the negotiated codec. */
void rpc_reply(struct rpc *r, const ProtobufCMessage *msg);

/** An error in the call's shape: unary -> status from the Connect table + JSON
 *  body; streaming -> 200 + a lone end-of-stream envelope carrying the error. */
void rpc_error(struct rpc *r, enum connect_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** rpc_error with the code derived from a negative errno and the message of err. */
void rpc_error_errno(struct rpc *r, int negative_errno, const char *message);

/** Answers any /filesystem.Filesystem/ call: unimplemented in the caller's shape. */
void rpc_reply_unimplemented(struct conn *c, const char *message);

/** Server streams: the 200 head with the streaming content type (idempotent). */
void rpc_stream_open(struct conn *c, enum connect_codec codec);
/** Appends one message envelope. Returns < 0 if it could not be encoded. */
int rpc_stream_send(struct conn *c, enum connect_codec codec, const ProtobufCMessage *msg);
/** Appends the end-of-stream envelope ({} or the error) and ends the exchange. */
void rpc_stream_close(struct conn *c, enum connect_code code, const char *message);
