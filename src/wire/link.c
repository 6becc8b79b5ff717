/* Frame encoding and blocking frame I/O for the daemon <-> agent link (see link.h). */
#include "link.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

void link_frame_header(uint8_t out[LINK_HEADER_SIZE], enum link_frame_type type, uint32_t len)
{
        out[0] = (uint8_t)type;
        out[1] = (uint8_t)(len >> 24);
        out[2] = (uint8_t)(len >> 16);
        out[3] = (uint8_t)(len >> 8);
        out[4] = (uint8_t)len;
}

int link_frame_append(struct buf *b, enum link_frame_type type, const void *payload, size_t n)
{
        uint8_t hdr[LINK_HEADER_SIZE];
        int r;

        if (n > LINK_FRAME_MAX)
                return -EMSGSIZE;
        r = buf_reserve(b, LINK_HEADER_SIZE + n);
        if (r < 0)
                return r;
        link_frame_header(hdr, type, (uint32_t)n);
        (void)buf_append(b, hdr, sizeof(hdr));
        return buf_append(b, payload, n);
}

int link_frame_parse(const uint8_t *p, size_t n, enum link_frame_type *ret_type, const uint8_t **ret_payload,
                     uint32_t *ret_len)
{
        uint32_t len;

        if (n < LINK_HEADER_SIZE)
                return 0;
        if (p[0] < LINK_HEAD || p[0] > LINK_END)
                return -EBADMSG;
        len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        if (len > LINK_FRAME_MAX)
                return -EBADMSG;
        if (n - LINK_HEADER_SIZE < len)
                return 0;
        *ret_type = (enum link_frame_type)p[0];
        *ret_payload = p + LINK_HEADER_SIZE;
        *ret_len = len;
        return 1;
}

int link_write_frame(int fd, enum link_frame_type type, const void *payload, size_t n)
{
        uint8_t hdr[LINK_HEADER_SIZE];
        struct iovec iov[2];
        size_t total, done = 0;

        if (n > LINK_FRAME_MAX)
                return -EMSGSIZE;
        link_frame_header(hdr, type, (uint32_t)n);
        total = sizeof(hdr) + n;
        while (done < total) {
                int cnt = 0;
                ssize_t k;

                if (done < sizeof(hdr)) {
                        iov[cnt++] = (struct iovec){hdr + done, sizeof(hdr) - done};
                        if (n)
                                iov[cnt++] = (struct iovec){(void *)payload, n};
                } else
                        iov[cnt++] = (struct iovec){(uint8_t *)payload + (done - sizeof(hdr)), total - done};
                k = writev(fd, iov, cnt);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t)k;
        }
        return 0;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t k = read(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EPIPE;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

int link_read_frame(int fd, struct buf *scratch, enum link_frame_type *ret_type)
{
        uint8_t hdr[LINK_HEADER_SIZE];
        uint32_t len;
        int r;

        buf_reset(scratch);
        r = read_full(fd, hdr, sizeof(hdr));
        if (r < 0)
                return r;
        if (hdr[0] < LINK_HEAD || hdr[0] > LINK_END)
                return -EBADMSG;
        len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
        if (len > LINK_FRAME_MAX)
                return -EBADMSG;
        r = buf_reserve(scratch, len + 1);
        if (r < 0)
                return r;
        r = read_full(fd, scratch->data, len);
        if (r < 0)
                return r;
        scratch->len = len;
        scratch->data[len] = 0; /* lets callers hand a HEAD payload to a JSON parser directly */
        *ret_type = (enum link_frame_type)hdr[0];
        return 0;
}
