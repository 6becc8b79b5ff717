/* Filesystem-service test helpers (see test-files-client.h). */
#include "test-files-client.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

#include "../../../src/wire/base64.h"
#include "../../../src/wire/link.h"

static void mkdir_own(const char *p, mode_t mode, int uid, int gid)
{
        mkdir(p, mode);
        chmod(p, mode);
        if (uid >= 0 && chown(p, (uid_t)uid, (gid_t)gid) < 0)
                abort();
}

int froot_setup(struct froot *r)
{
        static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                                     "user:x:1000:1000:user:/home/user:/bin/sh\n"
                                     "other:x:1001:1001::/home/other:/bin/sh\n";
        static const char group[] = "root:x:0:\nuser:x:1000:\nother:x:1001:\n";

        snprintf(r->root, sizeof(r->root), "/tmp/nestbox-files-root.XXXXXX");
        snprintf(r->outside, sizeof(r->outside), "/tmp/nestbox-files-outside.XXXXXX");
        if (!mkdtemp(r->root) || !mkdtemp(r->outside))
                return -errno;
        chmod(r->root, 0755);
        mkdir_own(rp(r, "/etc"), 0755, 0, 0);
        mkdir_own(rp(r, "/home"), 0755, 0, 0);
        mkdir_own(rp(r, "/home/user"), 0755, 1000, 1000);
        mkdir_own(rp(r, "/root"), 0700, 0, 0);
        mkdir_own(rp(r, "/tmp"), 01777, 0, 0);
        put_file(rp(r, "/etc/passwd"), passwd, strlen(passwd), 0, 0);
        put_file(rp(r, "/etc/group"), group, strlen(group), 0, 0);
        {
                char p[256];

                snprintf(p, sizeof(p), "%s/secret", r->outside);
                put_file(p, "host data\n", 10, 0, 0);
        }
        return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
        return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

void froot_teardown(struct froot *r)
{
        nftw(r->root, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        nftw(r->outside, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

const char *rp(const struct froot *r, const char *p)
{
        static char slots[8][4200];
        static int i;
        char *s = slots[i++ % 8];

        snprintf(s, sizeof(slots[0]), "%s%s", r->root, p);
        return s;
}

bool outside_untouched(const struct froot *r)
{
        char p[256];
        size_t n = 0, count = 0;
        char *data;
        struct dirent *de;
        DIR *d = opendir(r->outside);

        if (!d)
                return false;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        count++;
        closedir(d);
        snprintf(p, sizeof(p), "%s/secret", r->outside);
        data = get_file(p, &n);
        if (!data)
                return false;
        bool ok = count == 1 && n == 10 && memcmp(data, "host data\n", 10) == 0;
        free(data);
        return ok;
}

int fagent_start(const char *binary, const struct froot *r, struct agent_proc *ret)
{
        char passwd[256], group[256];
        const char *args[] = {"--passwd", passwd, "--group", group, NULL};
        int status = 0;

        snprintf(passwd, sizeof(passwd), "%s/etc/passwd", r->root);
        snprintf(group, sizeof(group), "%s/etc/group", r->root);
        setenv("NESTBOX_AGENT_ROOT", r->root, 1);
        if (agent_start(binary, args, false, ret) < 0)
                return -1;
        unsetenv("NESTBOX_AGENT_ROOT");
        for (int i = 0; i < 200; i++) {
                if (agent_http(ret, "GET", "/health", NULL, NULL, &status, NULL) >= 0 && status == 204)
                        return 0;
                usleep(20000);
        }
        return -1;
}

char *fs_call(const struct agent_proc *a, const char *method, const char *json, const char *user, int *ret_status)
{
        char path[128], auth[128];
        const char *headers[] = {"content-type", "application/json", NULL, NULL, NULL};
        char *body = NULL;

        snprintf(path, sizeof(path), "/filesystem.Filesystem/%s", method);
        if (user) {
                struct buf b = {0};
                char raw[64];

                snprintf(raw, sizeof(raw), "%s:", user);
                base64_encode((const uint8_t *)raw, strlen(raw), &b);
                snprintf(auth, sizeof(auth), "Basic %.*s", (int)b.len, (char *)b.data);
                buf_done(&b);
                headers[2] = "authorization";
                headers[3] = auth;
        }
        if (agent_http(a, "POST", path, headers, json, ret_status, &body) < 0)
                return NULL;
        return body;
}

int http_open(const struct agent_proc *a, const char *method, const char *path, const char *const *query,
              const char *const *headers, struct exch *ret)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        json_t *head, *q = json_object(), *h = json_object();
        char *text;
        int fd, r;

        *ret = (struct exch){.fd = -1};
        for (; query && query[0]; query += 2)
                json_object_set_new(q, query[0], json_string(query[1]));
        for (; headers && headers[0]; headers += 2)
                json_object_set_new(h, headers[0], json_string(headers[1]));
        head = json_pack("{s:s, s:s, s:o, s:o}", "method", method, "path", path, "query", q, "headers", h);
        text = json_dumps(head, JSON_COMPACT);
        json_decref(head);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a->sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                free(text);
                if (fd >= 0)
                        close(fd);
                return -errno;
        }
        r = link_write_frame(fd, LINK_HEAD, text, strlen(text));
        free(text);
        if (r < 0) {
                close(fd);
                return r;
        }
        ret->fd = fd;
        return 0;
}

int http_call(const struct agent_proc *a, const char *method, const char *path, const char *const *query,
              const char *const *headers, const void *body, size_t n, size_t chunk, struct buf *out,
              json_t **ret_head)
{
        const uint8_t *p = body;
        struct exch e;
        int r;

        r = http_open(a, method, path, query, headers, &e);
        if (r < 0)
                return r;
        if (chunk == 0 || chunk > LINK_FRAME_MAX)
                chunk = LINK_FRAME_MAX;
        for (size_t off = 0; off < n && r >= 0; off += chunk)
                r = exch_send_body(&e, p + off, n - off < chunk ? n - off : chunk);
        if (r >= 0)
                r = exch_send_end(&e);
        if (r >= 0)
                r = exch_read_all(&e, 30000);
        if (r >= 0) {
                r = e.status;
                if (out)
                        buf_append(out, buf_head(&e.body), buf_avail(&e.body));
                if (ret_head)
                        *ret_head = json_incref(e.head);
        }
        exch_close(&e);
        return r;
}

void put_file(const char *path, const void *data, size_t n, int uid, int gid)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0 || (n && write(fd, data, n) != (ssize_t)n))
                abort();
        fchmod(fd, 0644);
        if (uid >= 0 && fchown(fd, (uid_t)uid, (gid_t)gid) < 0)
                abort();
        close(fd);
}

char *get_file(const char *path, size_t *ret_n)
{
        struct buf b = {0};
        char tmp[65536];
        ssize_t k;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0)
                return NULL;
        while ((k = read(fd, tmp, sizeof(tmp))) > 0)
                buf_append(&b, tmp, (size_t)k);
        close(fd);
        buf_append(&b, "", 1);
        *ret_n = b.len - 1;
        return (char *)b.data;
}

void gzip_bytes(const void *p, size_t n, struct buf *out)
{
        z_stream z = {0};
        uint8_t tmp[65536];
        int r;

        if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                abort();
        z.next_in = (Bytef *)p;
        z.avail_in = (uInt)n;
        do {
                z.next_out = tmp;
                z.avail_out = sizeof(tmp);
                r = deflate(&z, Z_FINISH);
                buf_append(out, tmp, sizeof(tmp) - z.avail_out);
        } while (r == Z_OK || r == Z_BUF_ERROR);
        deflateEnd(&z);
}

long rss_kib(int pid)
{
        char p[64], line[256];
        long v = -1;
        FILE *f;

        snprintf(p, sizeof(p), "/proc/%d/status", pid);
        f = fopen(p, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
                        break;
        fclose(f);
        return v;
}
