/* /files routing and authorization (see files-http.h). envd lets /files pass
 * its general token check and validates here instead: the token header, or
 * a signed URL made by the SDK's uploadUrl()/downloadUrl(). */
#include "files-http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

#include "../wire/base64.h"
#include "files-internal.h"
#include "fs-path.h"
#include "log.h"

#define METADATA_HEADER_PREFIX "x-metadata-" /* names arrive lower-cased (src/wire/link.h) */

const char *files_query(const struct conn *c, const char *name)
{
        return json_string_value(json_object_get(json_object_get(c->head, "query"), name));
}

void files_signature(const char *path, enum files_op op, const char *user, const char *token, const char *exp,
                     char *out, size_t n)
{
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int digest_len = 0;
        struct buf text = {0}, b = {0};

        out[0] = '\0';
        if (buf_printf(&text, "%s:%s:%s:%s%s%s", path, op == FILES_READ ? "read" : "write", user, token,
                       exp ? ":" : "", exp ? exp : "") < 0 ||
            EVP_Digest(text.data, text.len, digest, &digest_len, EVP_sha256(), NULL) != 1 ||
            base64_encode(digest, digest_len, &b) < 0) {
                buf_done(&text);
                buf_done(&b);
                return; /* an empty signature never matches */
        }
        buf_done(&text);
        while (b.len > 0 && b.data[b.len - 1] == '=')
                b.len--;
        snprintf(out, n, "v1_%.*s", (int)b.len, (const char *)b.data);
        buf_done(&b);
}

static bool equal_ct(const char *a, const char *b)
{
        size_t n = strlen(a);
        unsigned char diff = 0;

        if (strlen(b) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                diff |= (unsigned char)(a[i] ^ b[i]);
        return diff == 0;
}

/* Go's strconv.ParseInt(s, 10, 64), which oapi-codegen uses for the parameter. */
static int parse_int64(const char *s, int64_t *ret)
{
        char *end;
        long long v;

        if (!s[0] || s[0] == ' ')
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int files_authorize(struct conn *c, enum files_op op)
{
        const char *token = c->agent->access_token, *header, *sig, *exp_s, *path, *user;
        char want[64], exp_norm[24];
        int64_t exp = 0;

        if (!token)
                return 0;
        header = conn_header(c, "x-access-token");
        if (header && header[0]) {
                if (equal_ct(token, header))
                        return 0;
                conn_reply_error(c, 401, "access token present in header but does not match");
                return -EACCES;
        }
        sig = files_query(c, "signature");
        if (!sig) {
                conn_reply_error(c, 401, "missing signature query parameter");
                return -EACCES;
        }
        exp_s = files_query(c, "signature_expiration");
        if (exp_s) {
                if (parse_int64(exp_s, &exp) < 0) {
                        conn_reply_error(c, 400, "Invalid format for parameter signature_expiration: '%.32s'", exp_s);
                        return -EINVAL;
                }
                snprintf(exp_norm, sizeof(exp_norm), "%" PRId64, exp);
        }
        path = files_query(c, "path");
        user = files_query(c, "username");
        files_signature(path ? path : "", op, user ? user : "", token, exp_s ? exp_norm : NULL, want, sizeof(want));
        if (!equal_ct(want, sig)) {
                conn_reply_error(c, 401, "invalid signature");
                return -EACCES;
        }
        if (exp_s && exp < (int64_t)time(NULL)) {
                conn_reply_error(c, 401, "signature is already expired");
                return -EACCES;
        }
        return 0;
}

int files_user(struct conn *c, struct user *ret)
{
        const char *username = files_query(c, "username");
        struct nb_error err = {0};
        enum connect_code code;
        int r;

        r = fs_request_user(c->agent, NULL, username, ret, &code, &err);
        if (r < 0) {
                if (code == CONNECT_UNAUTHENTICATED)
                        conn_reply_error(c, 401, "error looking up user '%.64s': %s", username ? username : "",
                                         err.message);
                else
                        conn_reply_error(c, 500, "error looking up user: %s", err.message);
        }
        return r;
}

/* X-Metadata-<key>: <value> -> user.e2b.<key> (keys lower-cased, as envd does). */
static int collect_metadata(struct conn *c, struct fs_meta_set *ret)
{
        json_t *headers = json_object_get(c->head, "headers"), *v;
        struct nb_error err = {0};
        struct fs_meta_set m = {0};
        const char *name;

        json_object_foreach(headers, name, v) {
                const char *key = name + strlen(METADATA_HEADER_PREFIX);

                if (strncmp(name, METADATA_HEADER_PREFIX, strlen(METADATA_HEADER_PREFIX)) != 0 || !key[0] ||
                    !json_is_string(v))
                        continue;
                if (fs_meta_set_add(&m, key, json_string_value(v)) < 0) {
                        fs_meta_done(&m);
                        conn_reply_error(c, 500, "out of memory");
                        return -ENOMEM;
                }
        }
        if (fs_meta_validate(&m, &err) < 0) {
                fs_meta_done(&m);
                conn_reply_error(c, 400, "%s", err.message);
                return -EINVAL;
        }
        *ret = m;
        return 0;
}

void files_post_begin(struct conn *c)
{
        struct fs_meta_set meta = {0};
        struct user u = {0};

        if (files_authorize(c, FILES_WRITE) < 0 || files_user(c, &u) < 0)
                return;
        if (collect_metadata(c, &meta) < 0) {
                user_done(&u);
                return;
        }
        files_upload_begin(c, &u, &meta);
}

void files_handle(struct conn *c)
{
        struct user u = {0};

        if (strcmp(c->method, "GET") != 0)
                return conn_reply_error(c, 405, "method %.16s is not allowed on '/files'", c->method);
        if (files_authorize(c, FILES_READ) < 0 || files_user(c, &u) < 0)
                return;
        files_download(c, &u);
        user_done(&u);
}
