/* pbjson: a generic, descriptor-driven converter between protobuf-c messages and
 * the protobuf JSON mapping as E2B's clients read and write it (protocol.md §3.2).
 * One code path serves every message type: the agent decodes requests and encodes
 * responses with it, whatever the RPC. Only google.protobuf.Timestamp is special-cased
 * (well-known type); maps are recognised by protoc's `<Field>Entry{key=1,value=2}` shape. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "../base/buf.h"
#include "../base/error.h"

#define PBJSON_MAX_DEPTH 64 /* JSON nesting (objects + arrays) accepted by pbjson_decode() */

/** Decodes JSON text json[0..len) into a newly allocated message of type desc.
 *  Accepts lowerCamelCase JSON names and the original proto field names; ignores
 *  unknown keys; int64/uint64 from a number or a decimal string (other integers
 *  too); bytes from standard or URL-safe base64, padding optional; enums by name
 *  or number (an unknown name leaves the field absent, as connect's
 *  ignoreUnknownFields does); map<K,V> from an object; a oneof member sets the
 *  *_case field; google.protobuf.Timestamp from RFC 3339; `null` = field absent.
 *  Sets has_* for every scalar that appears (proto2 presence), explicit false/0 included.
 *  Rejects: a top level that is not an object, nesting deeper than PBJSON_MAX_DEPTH,
 *  duplicate keys (also one field named both ways), two members of one oneof, wrong
 *  JSON types, out-of-range numbers, invalid base64, invalid UTF-8, "\u0000".
 *  On success *ret owns the message: free it with protobuf_c_message_free_unpacked(msg, NULL).
 *  Errors: -EINVAL with a message naming the field ("field 'process.args[1]': expected a
 *  string"), -ENOMEM. *ret is untouched on error. */
int pbjson_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                  ProtobufCMessage **ret, struct nb_error *err);

/** Appends msg as compact JSON to out: lowerCamelCase names in field-number order;
 *  a proto2 optional scalar or bytes is emitted iff its has_* is set, a string or
 *  message iff non-NULL (exactly what protobuf_c_message_pack() puts on the wire);
 *  empty repeated/map fields are omitted; int64/uint64 as decimal strings; bytes as
 *  standard padded base64; enums by value name (the number if the value has no name);
 *  a oneof emits only its set member, at the level where the oneof is declared;
 *  Timestamp as "YYYY-MM-DDTHH:MM:SS[.nnn|.nnnnnn|.nnnnnnnnn]Z"; an empty message is {}.
 *  Errors (out unchanged): -EINVAL when a string is not valid UTF-8, a Timestamp is out
 *  of range, or messages nest deeper than PBJSON_MAX_DEPTH; -ENOMEM. */
int pbjson_encode(const ProtobufCMessage *msg, struct buf *out, struct nb_error *err);
