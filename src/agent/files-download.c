/* GET /files (protocol.md §4.2): the file goes out in FILES_CHUNK reads, only
 * while the connection holds less than CONN_HIGH_WATER unsent bytes; the
 * rest waits for conn_handler.drained. Memory per download is one chunk
 * plus the connection's buffer, whatever the file size.
 *
 * The response is always identity-encoded with a Content-Length (the SDK
 * special-cases length 0). envd gzips when asked, but identity is valid for
 * every client that does not refuse it (`identity;q=0`), and a link response
 * head carries no Content-Encoding. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files-internal.h"
#include "fs-path.h"
#include "log.h"
#include "macro.h"

struct download {
        struct conn *c;
        int fd;
        uint64_t remaining;
        uint8_t *buf;
        bool pumping;
};

static void download_free(struct download *d)
{
        safe_close(d->fd);
        free(d->buf);
        free(d);
}

/* RFC 7231 §5.3.4 as envd reads it: identity is acceptable unless
 * "identity;q=0", or "*;q=0" without an explicit identity;q>0. */
static bool identity_acceptable(const char *header)
{
        bool identity_rejected = false, identity_accepted = false, wildcard_rejected = false;
        const char *p = header;

        if (!header)
                return true;
        while (*p) {
                size_t len = strcspn(p, ","), nlen;
                const char *q, *end = p + len;
                double quality = 1.0;

                while (p < end && (*p == ' ' || *p == '\t'))
                        p++;
                nlen = strcspn(p, ";, \t");
                if (nlen > (size_t)(end - p))
                        nlen = (size_t)(end - p);
                for (q = p + nlen; q < end; q++)
                        if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                                quality = strtod(q + 2, NULL);
                                break;
                        }
                if (nlen == 8 && strncasecmp(p, "identity", 8) == 0) {
                        if (quality == 0)
                                identity_rejected = true;
                        else
                                identity_accepted = true;
                } else if (nlen == 1 && p[0] == '*' && quality == 0)
                        wildcard_rejected = true;
                p = *end ? end + 1 : end;
        }
        return !(identity_rejected || (wildcard_rejected && !identity_accepted));
}

static void download_pump(struct download *d)
{
        struct conn *c = d->c;

        if (d->pumping)
                return; /* conn_reply_body() flushed and called drained: the loop below goes on */
        d->pumping = true;
        while (d->remaining > 0 && !c->dead && conn_pending(c) < CONN_HIGH_WATER) {
                size_t want = d->remaining < FILES_CHUNK ? (size_t)d->remaining : FILES_CHUNK;
                ssize_t k = read(d->fd, d->buf, want);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        /* The file shrank or broke after the head promised its length:
                         * all we can do is cut the response short. */
                        if (k < 0)
                                log_warning_errno(-errno, "Download read failed, aborting the response: %m");
                        else
                                log_warning("Download source shrank while being sent, aborting the response");
                        conn_kill(c);
                        break;
                }
                conn_reply_body(c, d->buf, (size_t)k);
                d->remaining -= (uint64_t)k;
        }
        d->pumping = false;
        if (d->remaining == 0 && !c->dead) {
                conn_clear_handler(c);
                conn_reply_end(c);
                download_free(d);
        }
}

static void download_drained(struct conn *c)
{
        download_pump(c->userdata);
}

static void download_aborted(struct conn *c, void *userdata)
{
        download_free(userdata);
}

static const struct conn_handler download_handler = {
        .drained = download_drained,
        .aborted = download_aborted,
};

void files_download(struct conn *c, const struct user *u)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int ofd = -EBADF, fd = -EBADF;
        struct nb_error err = {0};
        struct download *d;
        struct stat st, st2;
        int r;

        r = fs_path_resolve(files_query(c, "path"), u->home, c->agent->default_workdir, &path, &err);
        if (r < 0)
                return conn_reply_error(c, 400, "error expanding and resolving path: %s", err.message);
        /* O_PATH first: nothing is opened for reading before its type is known. */
        ofd = fs_open(path, O_PATH, 0, 0);
        if (ofd == -ENOENT || ofd == -ENOTDIR)
                return conn_reply_error(c, 404, "path '%.256s' does not exist", path);
        if (ofd == -ELOOP || ofd == -ENAMETOOLONG)
                return conn_reply_error(c, 400, "invalid path '%.256s': %s", path, strerror(-ofd));
        if (ofd == -EACCES || ofd == -EPERM)
                return conn_reply_error(c, 403, "path '%.256s': %s", path, strerror(-ofd));
        if (ofd < 0 || fstat(ofd, &st) < 0)
                return conn_reply_error(c, 500, "error checking if path exists '%.256s': %s", path,
                                        strerror(ofd < 0 ? -ofd : errno));
        if (S_ISDIR(st.st_mode))
                return conn_reply_error(c, 400, "path '%.256s' is a directory", path);
        if (!S_ISREG(st.st_mode))
                return conn_reply_error(c, 400, "path '%.256s' is not a regular file", path);
        if (fs_is_pseudo_fs(ofd))
                return conn_reply_error(c, 400, "path '%.256s' is on a kernel pseudo filesystem and is not served",
                                        path);
        if (!identity_acceptable(conn_header(c, "accept-encoding")))
                return conn_reply_error(c, 406, "error parsing Accept-Encoding: no acceptable encoding found, "
                                                "supported: [identity]");
        /* The same inode, opened for reading: through /proc when mounted, else by
         * path again and checked to be the file we stat-ed. */
        fd = fs_reopen(ofd, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                fd = fs_open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, 0);
        if (fd >= 0 && (fstat(fd, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)) {
                fd = safe_close(fd);
                return conn_reply_error(c, 409, "path '%.256s' changed while it was being opened", path);
        }
        if (fd < 0)
                return conn_reply_error(c, 500, "error opening file '%.256s': %s", path, strerror(-fd));
        /* Blocking reads from here on: a regular file never waits for a peer. */
        (void)fcntl(fd, F_SETFL, O_RDONLY);
        if (st2.st_size == 0)
                return conn_reply(c, 200, "application/octet-stream", NULL, 0);

        d = calloc(1, sizeof(*d));
        if (d)
                d->buf = malloc(FILES_CHUNK);
        if (!d || !d->buf) {
                free(d);
                return conn_reply_error(c, 500, "out of memory");
        }
        d->c = c;
        d->fd = TAKE_FD(fd);
        d->remaining = (uint64_t)st2.st_size;
        conn_reply_head(c, 200, "application/octet-stream", (long long)st2.st_size);
        conn_set_handler(c, &download_handler, d);
        download_pump(d);
}
