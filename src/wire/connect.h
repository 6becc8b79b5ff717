/* The Connect protocol pieces nestbox needs (protocol.md §3.1), without I/O:
 * error codes and their HTTP statuses, the 5-byte envelope of streaming
 * bodies, end-of-stream and unary error bodies, Content-Type classification,
 * and the codec switch (JSON or binary protobuf) for one message. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"
#include "../base/error.h"

enum connect_code {
        CONNECT_OK = 0,
        CONNECT_CANCELED,
        CONNECT_UNKNOWN,
        CONNECT_INVALID_ARGUMENT,
        CONNECT_DEADLINE_EXCEEDED,
        CONNECT_NOT_FOUND,
        CONNECT_ALREADY_EXISTS,
        CONNECT_PERMISSION_DENIED,
        CONNECT_RESOURCE_EXHAUSTED,
        CONNECT_FAILED_PRECONDITION,
        CONNECT_ABORTED,
        CONNECT_OUT_OF_RANGE,
        CONNECT_UNIMPLEMENTED,
        CONNECT_INTERNAL,
        CONNECT_UNAVAILABLE,
        CONNECT_DATA_LOSS,
        CONNECT_UNAUTHENTICATED,
        _CONNECT_CODE_MAX,
};

/** The wire name ("not_found"); "ok" for CONNECT_OK; "unknown" for values out of range. */
const char *connect_code_name(enum connect_code c);

/** Parses a wire name back ("not_found" -> CONNECT_NOT_FOUND). -EINVAL if unknown. */
int connect_code_from_name(const char *name, enum connect_code *ret);

/** The HTTP status of a unary error response (§3.1 table); 200 for CONNECT_OK,
 *  500 for values out of range. */
int connect_code_http_status(enum connect_code c);

/** The client's fallback when an error body carries no code (§3.1, third column). */
enum connect_code connect_code_from_http_status(int status);

/** Maps a negative errno to a code: -ENOENT not_found; -EINVAL, -ENOTDIR, -EISDIR
 *  invalid_argument; -EEXIST already_exists; -EACCES, -EPERM permission_denied;
 *  -ENOSPC resource_exhausted; -ETIMEDOUT deadline_exceeded; -ENOTSUP/-EOPNOTSUPP
 *  unimplemented; 0 ok; anything else internal. */
enum connect_code connect_code_from_errno(int negative_errno);

#define CONNECT_FLAG_COMPRESSED 0x01
#define CONNECT_FLAG_END_STREAM 0x02
#define CONNECT_ENVELOPE_HEADER_SIZE 5u
#define CONNECT_ENVELOPE_MAX (16u << 20) /* largest payload accepted or produced */

/** Appends one envelope: flags, 4-byte big-endian length, payload.
 *  -EMSGSIZE if n > CONNECT_ENVELOPE_MAX, -ENOMEM. */
int connect_envelope_append(struct buf *b, uint8_t flags, const void *payload, size_t n);

/** Looks for one envelope at p[0..n). Returns 1 and sets the out-params when a whole
 *  one is there (it occupies CONNECT_ENVELOPE_HEADER_SIZE + *ret_len bytes; the payload
 *  points into p), 0 when more bytes are needed, -EBADMSG as soon as the header shows
 *  a compressed flag, an unknown flag bit, or a length > CONNECT_ENVELOPE_MAX. */
int connect_envelope_parse(const uint8_t *p, size_t n, uint8_t *ret_flags, const uint8_t **ret_payload,
                           uint32_t *ret_len);

/** Appends the end-of-stream envelope (flag 0x02). Its JSON is `{}` for CONNECT_OK,
 *  else {"error":{"code":"<name>","message":"<message>"}} ("message" omitted when
 *  message is NULL). Always JSON, even on proto streams. Invalid UTF-8 in message
 *  is replaced by U+FFFD. -ENOMEM. */
int connect_end_stream_append(struct buf *b, enum connect_code code, const char *message);

/** Appends a unary error body {"code":"<name>","message":"<message>"} (message
 *  omitted when NULL; invalid UTF-8 replaced). -EINVAL for CONNECT_OK, -ENOMEM.
 *  Send it with connect_code_http_status(code) and Content-Type: application/json. */
int connect_unary_error_json(struct buf *b, enum connect_code code, const char *message);

enum connect_codec {
        CONNECT_CODEC_JSON,
        CONNECT_CODEC_PROTO,
};

/** Classifies a request Content-Type: application/json | application/proto (unary),
 *  application/connect+json | application/connect+proto (streaming). Case-insensitive;
 *  parameters are tolerated only as `charset=utf-8`. -EINVAL for anything else (or
 *  NULL): answer 415 Unsupported Media Type. */
int connect_parse_content_type(const char *ct, bool *ret_streaming, enum connect_codec *ret_codec);

/** The response Content-Type for a codec: "application/json", "application/proto",
 *  "application/connect+json" or "application/connect+proto". */
const char *connect_content_type(bool streaming, enum connect_codec codec);

/** Parses a Connect-Timeout-Ms header value (1 to 10 ASCII digits, no sign).
 *  -EINVAL otherwise (Connect: treat as a bad request). */
int connect_parse_timeout_ms(const char *v, uint64_t *ret_ms);

/** Decodes one message in the given codec (JSON through pbjson_decode(), proto through
 *  protobuf_c_message_unpack()). Free with protobuf_c_message_free_unpacked(msg, NULL).
 *  -EINVAL with a message in err when the payload does not parse. */
int connect_message_decode(enum connect_codec codec, const ProtobufCMessageDescriptor *desc,
                           const uint8_t *p, size_t n, ProtobufCMessage **ret, struct nb_error *err);

/** Appends msg encoded in the given codec to out. -EINVAL/-EILSEQ (see pbjson_encode()),
 *  -ENOMEM; out unchanged on error. */
int connect_message_encode(enum connect_codec codec, const ProtobufCMessage *msg, struct buf *out,
                           struct nb_error *err);
