/* A growable byte buffer with a read offset: appended at the end, consumed
 * from the front. Owned by whoever embeds it; buf_done() frees it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct buf {
        uint8_t *data;
        size_t len; /* bytes valid from data[0] */
        size_t off; /* bytes already consumed from the front */
        size_t cap;
};

int buf_reserve(struct buf *b, size_t extra); /* -ENOMEM on failure */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n);   /* drops n bytes from the front */
void buf_reset(struct buf *b);
void buf_done(struct buf *b);

static inline size_t buf_avail(const struct buf *b)
{
        return b->len - b->off;
}
static inline uint8_t *buf_head(const struct buf *b)
{
        return b->data + b->off;
}
