/* POST /files (protocol.md §4.3): the body is taken over at HEAD time and
 * pushed through   [gzip inflate] -> [multipart parser | raw] -> file
 * as BODY frames arrive, so no upload is ever held in memory (one inflate
 * buffer and the parser's fixed state at most). Files are written as envd
 * writes them: parents created and chowned to the user, truncated in place,
 * chowned, then the metadata set replaced. The answer (a JSON array of the
 * written files) goes out at the request END; an error goes out at once and
 * the rest of the body is discarded by the connection. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../wire/jsonstr.h"
#include "files-internal.h"
#include "files-multipart.h"
#include "fs-path.h"
#include "log.h"
#include "macro.h"

#define UPLOAD_OPEN_ATTEMPTS 4

struct upload {
        struct conn *c;
        struct user u;
        struct fs_meta_set meta;
        char *query_path; /* ?path= resolved; wins over multipart file names */

        bool gzip, z_ready, z_end;
        z_stream z;
        uint8_t *zbuf;

        /* Small BODY frames are gathered into FILES_CHUNK writes: one syscall per
         * 256 KiB instead of one per frame. */
        uint8_t *wbuf;
        size_t wlen;

        struct multipart *mp; /* NULL: a raw octet-stream body */
        bool in_file;         /* the current part is written to `fd` */
        int fd;
        char *path;

        char **paths; /* written so far, for envd's duplicate check */
        size_t n_paths;
        struct buf resp; /* the JSON array, built as files complete */

        int status; /* the HTTP status of the first failure */
        struct nb_error err;
};

static void upload_free(struct upload *up)
{
        user_done(&up->u);
        fs_meta_done(&up->meta);
        free(up->query_path);
        if (up->z_ready)
                inflateEnd(&up->z);
        free(up->zbuf);
        free(up->wbuf);
        multipart_free(up->mp);
        safe_close(up->fd);
        free(up->path);
        for (size_t i = 0; i < up->n_paths; i++)
                free(up->paths[i]);
        free(up->paths);
        buf_done(&up->resp);
        free(up);
}

/* Records the first failure; returns a negative code for the pipeline to unwind. */
static int upload_fail(struct upload *up, int status, int code, const char *fmt, ...) _printf_(4, 5);
static int upload_fail(struct upload *up, int status, int code, const char *fmt, ...)
{
        va_list ap;

        if (up->status)
                return code;
        up->status = status;
        va_start(ap, fmt);
        vsnprintf(up->err.message, sizeof(up->err.message), fmt, ap);
        va_end(ap);
        up->err.code = code;
        return code;
}

static int status_of_write_errno(int r)
{
        return r == -ENOSPC || r == -EDQUOT ? 507 : 500;
}

/* A path that cannot name a file (a component is a file, a magic link, too
 * long) is the client's mistake: 400, as envd's path errors are. */
static int status_of_path_errno(int r)
{
        return r == -ENOTDIR || r == -ELOOP || r == -ENAMETOOLONG || r == -EINVAL ? 400 : status_of_write_errno(r);
}

/* Opens path for writing as envd's processFile does: parents made for the user,
 * an existing regular file truncated in place (keeps its inode and links), a
 * new one created 0666 & ~umask; chowned to the user either way. */
static int file_open(struct upload *up, const char *path)
{
        _cleanup_free_ char *parent = NULL;
        _cleanup_close_ int pfd = -EBADF, wfd = -EBADF;
        struct nb_error err = {0};
        const char *base = fs_path_base(path);
        struct stat st;

        if (strcmp(path, "/") == 0)
                return upload_fail(up, 400, -EISDIR, "path is a directory: /");
        if (fs_path_parent(path, &parent) < 0)
                return upload_fail(up, 500, -ENOMEM, "out of memory");
        pfd = fs_mkdir_p(parent, up->u.uid, up->u.gid, &err);
        if (pfd < 0)
                return upload_fail(up, status_of_path_errno(pfd), pfd, "error ensuring directories: %s", err.message);
        for (int attempt = 0; wfd < 0; attempt++) {
                _cleanup_close_ int ofd = -EBADF;
                struct stat st2;

                if (attempt == UPLOAD_OPEN_ATTEMPTS)
                        return upload_fail(up, 409, -EAGAIN,
                                           "path '%.256s' is a dangling symbolic link or keeps changing", path);
                /* Existing: what is there decides, seen through an O_PATH fd first. */
                ofd = fs_open(path, O_PATH, 0, 0);
                if (ofd >= 0) {
                        if (fstat(ofd, &st) < 0)
                                return upload_fail(up, 500, -errno, "error getting file info: %m");
                        if (S_ISDIR(st.st_mode))
                                return upload_fail(up, 400, -EISDIR, "path is a directory: %.256s", path);
                        if (!S_ISREG(st.st_mode))
                                return upload_fail(up, 400, -EINVAL, "path '%.256s' is not a regular file", path);
                        if (fs_is_pseudo_fs(ofd))
                                return upload_fail(up, 400, -EINVAL,
                                                   "path '%.256s' is on a kernel pseudo filesystem and is not written",
                                                   path);
                        wfd = fs_reopen(ofd, O_WRONLY | O_NONBLOCK | O_NOCTTY);
                        if (wfd < 0)
                                wfd = fs_open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY, 0, 0);
                        if (wfd >= 0 &&
                            (fstat(wfd, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)) {
                                wfd = safe_close(wfd);
                                continue; /* swapped between the two opens: look again */
                        }
                        if (wfd < 0)
                                return upload_fail(up, status_of_write_errno(wfd), wfd,
                                                   "error opening file '%.256s': %s", path, strerror(-wfd));
                        if (ftruncate(wfd, 0) < 0)
                                return upload_fail(up, 500, -errno, "error truncating '%.256s': %m", path);
                        break;
                }
                if (ofd == -ENOTDIR)
                        return upload_fail(up, 400, ofd, "a parent of '%.256s' is not a directory", path);
                if (ofd == -ELOOP || ofd == -ENAMETOOLONG)
                        return upload_fail(up, 400, ofd, "invalid path '%.256s': %s", path, strerror(-ofd));
                if (ofd != -ENOENT)
                        return upload_fail(up, 500, ofd, "error getting file info of '%.256s': %s", path,
                                           strerror(-ofd));
                /* New: created in the parent we hold, never through a symlink. */
                wfd = fs_open_child(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK | O_NOCTTY, 0666, 0);
                if (wfd == -EEXIST)
                        continue; /* raced with a creator (or a dangling symlink is there) */
                if (wfd < 0)
                        return upload_fail(up, status_of_write_errno(wfd), wfd,
                                           wfd == -ENOSPC ? "not enough inodes available: %s"
                                                          : "error opening file: %s",
                                           strerror(-wfd));
        }
        if (fchown(wfd, up->u.uid, up->u.gid) < 0)
                return upload_fail(up, 500, -errno, "error changing file ownership: %m");
        (void)fcntl(wfd, F_SETFL, O_WRONLY);
        free(up->path);
        up->path = strdup(path);
        if (!up->path)
                return upload_fail(up, 500, -ENOMEM, "out of memory");
        up->fd = TAKE_FD(wfd);
        up->in_file = true;
        return 0;
}

static int write_all(struct upload *up, const uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(up->fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ENOSPC || errno == EDQUOT)
                                return upload_fail(up, 507, -errno, "not enough disk space available");
                        return upload_fail(up, 500, -errno, "error writing file: %m");
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

static int file_flush(struct upload *up)
{
        size_t n = up->wlen;

        up->wlen = 0;
        return n > 0 ? write_all(up, up->wbuf, n) : 0;
}

static int file_write(struct upload *up, const uint8_t *p, size_t n)
{
        int r;

        if (up->wlen + n > FILES_CHUNK) {
                r = file_flush(up);
                if (r < 0)
                        return r;
        }
        if (n >= FILES_CHUNK)
                return write_all(up, p, n); /* big pieces go straight through */
        memcpy(up->wbuf + up->wlen, p, n);
        up->wlen += n;
        return 0;
}

static int append_json_string(struct buf *b, const char *s)
{
        return jsonstr_append(b, s, strlen(s), true);
}

static int append_raw(struct buf *b, const char *s)
{
        return buf_append(b, s, strlen(s));
}

/* The file is complete: metadata replaced, read back, and listed in the answer. */
static int file_close(struct upload *up)
{
        struct fs_meta_set stored = {0};
        struct nb_error err = {0};
        int r;

        up->in_file = false;
        r = file_flush(up);
        if (r < 0)
                return r;
        r = fs_meta_write(up->fd, &up->meta, &err);
        if (r == -ENOTSUP || r == -EOPNOTSUPP)
                log_warning("Filesystem of '%.128s' has no xattrs; metadata not stored", up->path);
        else if (r == -ENOSPC || r == -EDQUOT)
                return upload_fail(up, 507, r, "not enough space for file metadata: %s", err.message);
        else if (r < 0)
                return upload_fail(up, 500, r, "error writing file metadata: %s", err.message);
        if (fs_meta_read(up->fd, &stored) < 0)
                log_warning("Failed to read back the metadata of '%.128s', ignoring", up->path);
        up->fd = safe_close(up->fd);

        r = append_raw(&up->resp, up->resp.len ? "," : "[");
        if (r >= 0 && stored.n > 0) {
                r = append_raw(&up->resp, "{\"metadata\":{");
                for (size_t i = 0; r >= 0 && i < stored.n; i++) {
                        if (i > 0)
                                r = append_raw(&up->resp, ",");
                        if (r >= 0)
                                r = append_json_string(&up->resp, stored.v[i].key);
                        if (r >= 0)
                                r = append_raw(&up->resp, ":");
                        if (r >= 0)
                                r = append_json_string(&up->resp, stored.v[i].value);
                }
                if (r >= 0)
                        r = append_raw(&up->resp, "},\"name\":");
        } else if (r >= 0)
                r = append_raw(&up->resp, "{\"name\":");
        if (r >= 0)
                r = append_json_string(&up->resp, fs_path_base(up->path));
        if (r >= 0)
                r = append_raw(&up->resp, ",\"path\":");
        if (r >= 0)
                r = append_json_string(&up->resp, up->path);
        if (r >= 0)
                r = append_raw(&up->resp, ",\"type\":\"file\"}");
        fs_meta_done(&stored);
        if (r < 0)
                return upload_fail(up, 500, -ENOMEM, "out of memory");
        return 0;
}

/* ---- multipart parts ---- */

static int part_begin(void *userdata, const char *name, const char *filename)
{
        struct upload *up = userdata;
        _cleanup_free_ char *resolved = NULL;
        const char *path;
        char **v;

        if (!name || strcmp(name, "file") != 0)
                return 0; /* envd ignores parts not named "file" */
        if (up->query_path)
                path = up->query_path;
        else {
                struct nb_error err = {0};

                if (!filename)
                        return upload_fail(up, 400, -EINVAL,
                                           "error getting multipart custom part file name: filename not found in "
                                           "Content-Disposition header");
                if (fs_path_resolve(filename, up->u.home, up->c->agent->default_workdir, &resolved, &err) < 0)
                        return upload_fail(up, 400, -EINVAL, "error resolving path: %s", err.message);
                path = resolved;
        }
        for (size_t i = 0; i < up->n_paths; i++)
                if (strcmp(up->paths[i], path) == 0)
                        return upload_fail(up, 400, -EEXIST,
                                           "you cannot upload multiple files to the same path '%.256s' in one upload "
                                           "request, only the first specified file was uploaded",
                                           path);
        v = realloc(up->paths, (up->n_paths + 1) * sizeof(*v));
        if (!v)
                return upload_fail(up, 500, -ENOMEM, "out of memory");
        up->paths = v;
        up->paths[up->n_paths] = strdup(path);
        if (!up->paths[up->n_paths])
                return upload_fail(up, 500, -ENOMEM, "out of memory");
        up->n_paths++;
        return file_open(up, path);
}

static int part_data(void *userdata, const void *p, size_t n)
{
        struct upload *up = userdata;

        return up->in_file ? file_write(up, p, n) : 0;
}

static int part_end(void *userdata)
{
        struct upload *up = userdata;

        return up->in_file ? file_close(up) : 0;
}

static const struct multipart_ops part_ops = {
        .part_begin = part_begin,
        .part_data = part_data,
        .part_end = part_end,
};

/* ---- the body pipeline ---- */

/* Decoded body bytes: to the parser, or straight into the one raw file. */
static int consume_decoded(struct upload *up, const uint8_t *p, size_t n)
{
        int r;

        if (n == 0)
                return 0;
        if (up->mp) {
                r = multipart_feed(up->mp, p, n, &up->err);
                if (r == -EBADMSG && !up->status)
                        return upload_fail(up, 400, r, "error reading form: %s", up->err.message);
                return r;
        }
        if (!up->in_file) {
                r = file_open(up, up->query_path);
                if (r < 0)
                        return r;
        }
        return file_write(up, p, n);
}

static int consume_body(struct upload *up, const uint8_t *p, size_t n)
{
        int r;

        if (!up->gzip)
                return consume_decoded(up, p, n);
        up->z.next_in = (Bytef *)p;
        up->z.avail_in = (uInt)n;
        do {
                size_t produced;

                if (up->z_end) {
                        if (up->z.avail_in == 0)
                                break;
                        /* Another gzip member follows (Go's reader is multistream). */
                        if (inflateReset(&up->z) != Z_OK)
                                return upload_fail(up, 400, -EBADMSG, "error decompressing request body");
                        up->z_end = false;
                }
                up->z.next_out = up->zbuf;
                up->z.avail_out = FILES_CHUNK;
                r = inflate(&up->z, Z_NO_FLUSH);
                produced = FILES_CHUNK - up->z.avail_out;
                if (r == Z_STREAM_END)
                        up->z_end = true;
                else if (r == Z_BUF_ERROR) {
                        if (produced == 0)
                                break; /* needs more input */
                } else if (r != Z_OK)
                        return upload_fail(up, 400, -EBADMSG, "error decompressing request body: %s",
                                           up->z.msg ? up->z.msg : "invalid gzip data");
                r = consume_decoded(up, up->zbuf, produced);
                if (r < 0)
                        return r;
                /* A full output buffer may mean inflate holds more without new input. */
        } while (up->z.avail_in > 0 || up->z.avail_out == 0);
        return 0;
}

static void upload_answer_error(struct upload *up)
{
        struct conn *c = up->c;

        if (up->status >= 500)
                log_warning("Upload failed (%d): %s", up->status, up->err.message);
        conn_clear_handler(c);
        conn_reply_error(c, up->status ? up->status : 500, "%s", up->err.message[0] ? up->err.message : "upload failed");
        upload_free(up);
}

static void upload_body(struct conn *c)
{
        struct upload *up = c->userdata;
        int r;

        r = consume_body(up, buf_head(&c->body), buf_avail(&c->body));
        buf_consume(&c->body, buf_avail(&c->body));
        if (r < 0 || up->status)
                upload_answer_error(up);
}

static void upload_end(struct conn *c)
{
        struct upload *up = c->userdata;
        int r = 0;

        if (up->gzip && !up->z_end)
                r = upload_fail(up, 400, -EBADMSG, "error decompressing request body: unexpected EOF");
        if (r >= 0 && up->mp) {
                r = multipart_finish(up->mp, &up->err);
                if (r < 0 && !up->status)
                        upload_fail(up, 400, r, "error reading form: %s", up->err.message);
        } else if (r >= 0) {
                /* Raw: an empty body still makes an empty file. */
                if (!up->in_file)
                        r = file_open(up, up->query_path);
                if (r >= 0)
                        r = file_close(up);
        }
        if (r < 0 || up->status)
                return upload_answer_error(up);
        if (up->resp.len == 0)
                r = buf_append(&up->resp, "[", 1); /* no file part: envd answers [] */
        if (r >= 0)
                r = buf_append(&up->resp, "]", 1);
        if (r < 0) {
                upload_fail(up, 500, -ENOMEM, "out of memory");
                return upload_answer_error(up);
        }
        conn_clear_handler(c);
        conn_reply(c, 200, "application/json", buf_head(&up->resp), buf_avail(&up->resp));
        upload_free(up);
}

static void upload_aborted(struct conn *c, void *userdata)
{
        /* The client went away mid-upload: what was written stays, as with envd. */
        upload_free(userdata);
}

static const struct conn_handler upload_handler = {
        .body = upload_body,
        .end = upload_end,
        .aborted = upload_aborted,
};

/* Content-Encoding: none/identity or gzip (envd's parseContentEncoding). */
static int parse_content_encoding(const char *v, bool *ret_gzip)
{
        size_t n;

        *ret_gzip = false;
        if (!v)
                return 0;
        while (*v == ' ' || *v == '\t')
                v++;
        n = strcspn(v, "; \t,");
        if (n == 0 || (n == 8 && strncasecmp(v, "identity", 8) == 0))
                return 0;
        if (n == 4 && strncasecmp(v, "gzip", 4) == 0) {
                *ret_gzip = true;
                return 0;
        }
        return -EINVAL;
}

static bool is_octet_stream(const char *ct)
{
        size_t n;

        if (!ct)
                return false;
        while (*ct == ' ' || *ct == '\t')
                ct++;
        n = strcspn(ct, "; \t");
        return n == 24 && strncasecmp(ct, "application/octet-stream", 24) == 0;
}

void files_upload_begin(struct conn *c, struct user *u, struct fs_meta_set *meta)
{
        const char *ct = conn_header(c, "content-type"), *ce = conn_header(c, "content-encoding");
        const char *qpath = files_query(c, "path");
        char boundary[MULTIPART_BOUNDARY_MAX + 1];
        struct nb_error err = {0};
        struct upload *up;
        bool gzip, raw;

        up = calloc(1, sizeof(*up));
        if (!up) {
                user_done(u);
                fs_meta_done(meta);
                return conn_reply_error(c, 500, "out of memory");
        }
        up->c = c;
        up->fd = -EBADF;
        up->wbuf = malloc(FILES_CHUNK);
        if (!up->wbuf) {
                free(up);
                user_done(u);
                fs_meta_done(meta);
                return conn_reply_error(c, 500, "out of memory");
        }
        up->u = *u;
        *u = (struct user){0};
        up->meta = *meta;
        *meta = (struct fs_meta_set){0};

        if (parse_content_encoding(ce, &gzip) < 0) {
                upload_fail(up, 400, -EINVAL,
                            "error decompressing request body: unsupported Content-Encoding: %.64s, supported: [gzip]",
                            ce);
                return upload_answer_error(up);
        }
        raw = is_octet_stream(ct);
        if (!raw && multipart_boundary(ct, boundary) < 0) {
                upload_fail(up, 400, -EINVAL,
                            "unsupported content type: %.128s, expected multipart/form-data (with a boundary) or "
                            "application/octet-stream",
                            ct ? ct : "");
                return upload_answer_error(up);
        }
        if (raw && !qpath) {
                upload_fail(up, 400, -EINVAL, "path query parameter is required for raw body upload");
                return upload_answer_error(up);
        }
        if (qpath && fs_path_resolve(qpath, up->u.home, c->agent->default_workdir, &up->query_path, &err) < 0) {
                upload_fail(up, 400, -EINVAL, "error resolving path: %s", err.message);
                return upload_answer_error(up);
        }
        if (!raw && multipart_new(boundary, &part_ops, up, &up->mp) < 0) {
                upload_fail(up, 500, -ENOMEM, "out of memory");
                return upload_answer_error(up);
        }
        if (gzip) {
                up->gzip = true;
                up->zbuf = malloc(FILES_CHUNK);
                /* 16 + MAX_WBITS: gzip framing only, as Content-Encoding: gzip means. */
                if (!up->zbuf || inflateInit2(&up->z, 16 + MAX_WBITS) != Z_OK) {
                        upload_fail(up, 500, -ENOMEM, "out of memory");
                        return upload_answer_error(up);
                }
                up->z_ready = true;
        }
        c->body_streaming = true;
        conn_set_handler(c, &upload_handler, up);
}
