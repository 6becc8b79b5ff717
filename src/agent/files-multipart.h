/* A streaming multipart/form-data parser (RFC 7578, RFC 2046 §5.1) for
 * POST /files: bytes go in as they arrive, part bodies come out through
 * callbacks without ever holding a part in memory. No I/O, no allocation
 * after multipart_new(); every input is bounded (headers <= 16 KiB), so it is
 * safe on hostile bodies (tests/unit/agent fuzzes it). No Debian library
 * fits: libmicrohttpd's post processor needs an MHD connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define MULTIPART_BOUNDARY_MAX 70  /* RFC 2046 */
#define MULTIPART_HEADERS_MAX (16u << 10)

struct multipart;

struct multipart_ops {
        /* A part begins. name/filename are NULL when absent (filename holds
         * undici's %22/%0D/%0A escapes as sent: envd does not decode them). */
        int (*part_begin)(void *userdata, const char *name, const char *filename);
        int (*part_data)(void *userdata, const void *p, size_t n);
        int (*part_end)(void *userdata);
};

/** Extracts the boundary parameter of a multipart Content-Type (quoted or not)
 *  into out (MULTIPART_BOUNDARY_MAX + 1 bytes). -EINVAL when the type is not
 *  multipart/form-data or multipart/mixed or has no valid boundary. */
int multipart_boundary(const char *content_type, char out[static MULTIPART_BOUNDARY_MAX + 1]);

int multipart_new(const char *boundary, const struct multipart_ops *ops, void *userdata, struct multipart **ret);
struct multipart *multipart_free(struct multipart *m);

/** Feeds n bytes. A callback's negative return stops parsing and is returned;
 *  malformed input is -EBADMSG with a message in err. */
int multipart_feed(struct multipart *m, const void *p, size_t n, struct nb_error *err);

/** The body ended: -EBADMSG unless the closing delimiter was seen. */
int multipart_finish(struct multipart *m, struct nb_error *err);
