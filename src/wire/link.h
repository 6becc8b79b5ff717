/* The link: how the daemon carries one HTTP exchange to a sandbox's agent.
 *
 * The daemon terminates HTTP from clients; the agent never parses HTTP. Each
 * exchange uses its own unix stream connection (vsock later), carrying frames:
 *
 *     frame   = type:u8 | length:u32 big-endian | payload[length]
 *
 *     daemon -> agent : HEAD, BODY*, END
 *         HEAD payload: JSON {"method":"POST","path":"/process.Process/Start",
 *                             "query":{"k":"v",...},            (percent-decoded)
 *                             "headers":{"content-type":"...",...}, (names lower-case)
 *                             "port":49983}   (the sandbox port the client addressed;
 *                                              49999 = code interpreter; absent = 49983)
 *     agent -> daemon : HEAD, BODY*, END
 *         HEAD payload: JSON {"status":200,"headers":{"Content-Type":"...",...}}
 *         "headers" may hold "content-length" when the body size is known.
 *
 * BODY payloads are raw body bytes (a Connect stream's envelopes, a file's
 * bytes); the agent may send the response HEAD before the request END, and
 * streams (Connect server streams) send BODY frames as events happen. Closing
 * the socket at any point aborts the exchange: the agent frees the stream's
 * resources (it never kills a process because a stream went away).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"

enum link_frame_type {
        LINK_HEAD = 1,
        LINK_BODY = 2,
        LINK_END = 3,
};

#define LINK_HEADER_SIZE 5u
#define LINK_FRAME_MAX (1u << 20) /* larger payloads are split into several BODY frames */

/** Writes the 5-byte frame header. */
void link_frame_header(uint8_t out[LINK_HEADER_SIZE], enum link_frame_type type, uint32_t len);

/** Appends one whole frame to b. n must be <= LINK_FRAME_MAX. */
int link_frame_append(struct buf *b, enum link_frame_type type, const void *payload, size_t n);

/** Looks for one whole frame at p[0..n). Returns 1 and sets the out-params when one is
 *  there (the frame occupies LINK_HEADER_SIZE + *ret_len bytes), 0 when more bytes are
 *  needed, -EBADMSG for an unknown type or an oversized length. */
int link_frame_parse(const uint8_t *p, size_t n, enum link_frame_type *ret_type, const uint8_t **ret_payload,
                     uint32_t *ret_len);

/** Blocking: writes one frame completely (retries on EINTR and short writes). */
int link_write_frame(int fd, enum link_frame_type type, const void *payload, size_t n);

/** Blocking: reads one frame; its payload is left in scratch (reset first). -EPIPE on EOF. */
int link_read_frame(int fd, struct buf *scratch, enum link_frame_type *ret_type);
