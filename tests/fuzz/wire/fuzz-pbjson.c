/* Fuzzes pbjson (decode, then encode/decode stability and the binary round trip),
 * plus the Connect envelope parser and base64 decoder on the same bytes.
 * Input: byte 0 picks the message type, the rest is the JSON text.
 * Build for libFuzzer: tests/fuzz/wire/build.sh; replay: fuzz-pbjson-replay <files|dirs>. */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "connect.h"
#include "filesystem.pb-c.h"
#include "fuzz.h"
#include "pbjson.h"
#include "process.pb-c.h"

static const ProtobufCMessageDescriptor *const types[] = {
        &process__start_request__descriptor,         &process__start_response__descriptor,
        &process__connect_request__descriptor,       &process__list_response__descriptor,
        &process__send_input_request__descriptor,    &process__send_signal_request__descriptor,
        &process__update_request__descriptor,        &process__close_stdin_request__descriptor,
        &process__stream_input_request__descriptor,  &filesystem__entry_info__descriptor,
        &filesystem__list_dir_request__descriptor,   &filesystem__list_dir_response__descriptor,
        &filesystem__move_request__descriptor,       &filesystem__watch_dir_request__descriptor,
        &filesystem__watch_dir_response__descriptor, &filesystem__get_watcher_events_response__descriptor,
};

static void must(int cond)
{
        if (!cond)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const ProtobufCMessageDescriptor *d;
        ProtobufCMessage *m = NULL, *m2 = NULL, *m3;
        struct buf out = {0}, out2 = {0}, b64 = {0};
        struct nb_error err = {0};
        const uint8_t *payload;
        uint8_t flags, *bin;
        uint32_t len;
        size_t n;

        if (size == 0)
                return 0;
        (void)connect_envelope_parse(data, size, &flags, &payload, &len);
        (void)base64_decode((const char *)data, size, &b64);
        buf_done(&b64);

        d = types[data[0] % (sizeof(types) / sizeof(types[0]))];
        if (pbjson_decode(d, (const char *)data + 1, size - 1, &m, &err) < 0)
                return 0;
        /* Whatever decodes must encode, and the encoding must be a fixed point. */
        must(pbjson_encode(m, &out, &err) == 0);
        must(pbjson_decode(d, (const char *)out.data, out.len, &m2, &err) == 0);
        must(pbjson_encode(m2, &out2, &err) == 0);
        must(out.len == out2.len && memcmp(out.data, out2.data, out.len) == 0);
        /* And the binary encoding of the decoded message must unpack to the same JSON. */
        n = protobuf_c_message_get_packed_size(m);
        bin = malloc(n ? n : 1);
        must(bin != NULL);
        must(protobuf_c_message_pack(m, bin) == n);
        m3 = protobuf_c_message_unpack(d, NULL, n, bin);
        must(m3 != NULL);
        buf_reset(&out2);
        must(pbjson_encode(m3, &out2, &err) == 0);
        must(out.len == out2.len && memcmp(out.data, out2.data, out.len) == 0);
        protobuf_c_message_free_unpacked(m3, NULL);
        free(bin);
        protobuf_c_message_free_unpacked(m2, NULL);
        protobuf_c_message_free_unpacked(m, NULL);
        buf_done(&out);
        buf_done(&out2);
        return 0;
}
