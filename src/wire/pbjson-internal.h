/* Helpers shared by pbjson-decode.c and pbjson-encode.c; not part of the wire/ API. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"

/* Dotted path of the field being converted, for error messages. */
struct pbjson_path {
        char s[160];
        size_t len;
};

/* Each push returns the previous length, to hand back to pbjson_path_pop(). */
size_t pbjson_path_push_field(struct pbjson_path *p, const char *name);
size_t pbjson_path_push_index(struct pbjson_path *p, size_t i);
size_t pbjson_path_push_key(struct pbjson_path *p, const char *key);
void pbjson_path_pop(struct pbjson_path *p, size_t len);

/* protoc's ToJsonName(): drop each '_' and upper-case the letter after it. */
bool pbjson_json_name_eq(const char *proto_name, const char *key);
int pbjson_json_name_append(struct buf *b, const char *proto_name);

/* A repeated field whose message type is protoc's synthesized map entry. */
bool pbjson_field_is_map(const ProtobufCFieldDescriptor *f);
bool pbjson_is_timestamp(const ProtobufCMessageDescriptor *d);

/* Bytes one element of a repeated field of this type occupies in protobuf-c's array. */
size_t pbjson_element_size(ProtobufCType type);

/* RFC 3339 <-> (seconds, nanos), within Timestamp's range 0001-01-01..9999-12-31. */
int pbjson_timestamp_parse(const char *s, size_t n, int64_t *ret_seconds, int32_t *ret_nanos);
int pbjson_timestamp_format(int64_t seconds, int32_t nanos, struct buf *out);

#define PBJSON_MEMBER(type, msg, offset) (*(type *)((uint8_t *)(msg) + (offset)))
/* `type const *`, not `const type *`: for pointer types the member itself is what is const. */
#define PBJSON_CMEMBER(type, msg, offset) (*(type const *)((const uint8_t *)(msg) + (offset)))
