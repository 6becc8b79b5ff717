/* Pieces shared by files-http.c (routing, auth), files-download.c and
 * files-upload.c. Not for other modules: they use files-http.h. */
#pragma once

#include <stdbool.h>

#include "conn.h"
#include "fs-xattr.h"
#include "users.h"

#define FILES_CHUNK (256u << 10) /* bytes read from a file or inflated per step */

enum files_op {
        FILES_READ,
        FILES_WRITE,
};

/** A query parameter of the request (percent-decoded by the daemon), or NULL. */
const char *files_query(const struct conn *c, const char *name);

/** envd's validateSigning (§4.3): no token -> ok; X-Access-Token present -> must
 *  match; else signature (+ optional expiration) must match and not be
 *  expired. On failure answers 401 (or 400 for a malformed expiration) and
 *  returns < 0. */
int files_authorize(struct conn *c, enum files_op op);

/** The request's user (`username` or the default); answers 401/500 and returns
 *  < 0 on failure. */
int files_user(struct conn *c, struct user *ret);

/** "v1_" + base64(sha256("<path>:<op>:<user>:<token>[:<exp>]")) without padding,
 *  into out (>= 48 bytes). exp NULL: no expiration part. */
void files_signature(const char *path, enum files_op op, const char *user, const char *token, const char *exp,
                     char *out, size_t n);

/** GET /files for an authorized request. */
void files_download(struct conn *c, const struct user *u);

/** POST /files for an authorized request: takes over the body. meta is the
 *  validated X-Metadata-* set (taken over). */
void files_upload_begin(struct conn *c, struct user *u, struct fs_meta_set *meta);
