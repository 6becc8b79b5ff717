/* The filesystem service and /files of nestbox-agent, over the link protocol
 * (protocol.md §3.5, §4.2, §4.3): the real binary runs against a throw-away
 * sandbox root (NESTBOX_AGENT_ROOT) and answers are checked byte for byte
 * where envd's are known exactly. Hostile paths live in test-files-hostile.c.
 * Needs root (chown to the request's user). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "filesystem.pb-c.h"
#include "test-files-client.h"

static const char *agent_binary;
static struct agent_proc agent;
static struct froot fr;

#define MTIME_SEC 1700000000
#define MTIME_NSEC 123456789
#define MTIME_JSON "\"modifiedTime\":\"2023-11-14T22:13:20.123456789Z\""

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
        va_list ap;
        char *s;

        va_start(ap, f);
        assert_true(vasprintf(&s, f, ap) >= 0);
        va_end(ap);
        return s;
}

static void set_mtime(const char *path)
{
        struct timespec ts[2] = {{MTIME_SEC, MTIME_NSEC}, {MTIME_SEC, MTIME_NSEC}};

        assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* A unary call that must answer want_status with exactly want_body (NULL: any body). */
static void call(const char *method, const char *json, int want_status, const char *want_body)
{
        int status = 0;
        char *body = fs_call(&agent, method, json, NULL, &status);

        assert_non_null(body);
        if (status != want_status || (want_body && strcmp(body, want_body) != 0))
                fail_msg("%s %s: got %d %s\nwant %d %s", method, json, status, body, want_status,
                         want_body ? want_body : "(any)");
        free(body);
}

/* A unary call; returns the parsed JSON answer after checking the status. */
static json_t *call_json(const char *method, const char *json, int want_status)
{
        int status = 0;
        char *body = fs_call(&agent, method, json, NULL, &status);
        json_t *j;

        assert_non_null(body);
        if (status != want_status)
                fail_msg("%s %s: got %d %s, want %d", method, json, status, body, want_status);
        j = json_loads(body, 0, NULL);
        if (!j)
                fail_msg("%s: not JSON: %s", method, body);
        free(body);
        return j;
}

static const char *jstr(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

static void expect_code(const char *method, const char *json, int status, const char *code)
{
        json_t *j = call_json(method, json, status);

        assert_string_equal(jstr(j, "code"), code);
        assert_non_null(jstr(j, "message"));
        json_decref(j);
}

static void test_stat_file(void **state)
{
        put_file(rp(&fr, "/home/user/a.txt"), "hello", 5, 1000, 1000);
        set_mtime(rp(&fr, "/home/user/a.txt"));
        /* Relative paths are joined to the user's home (§3.3). */
        call("Stat", "{\"path\":\"a.txt\"}", 200,
             "{\"entry\":{\"name\":\"a.txt\",\"type\":\"FILE_TYPE_FILE\",\"path\":\"/home/user/a.txt\",\"size\":\"5\","
             "\"mode\":420,\"permissions\":\"-rw-r--r--\",\"owner\":\"user\",\"group\":\"user\"," MTIME_JSON "}}");
        call("Stat", "{\"path\":\"~/a.txt\"}", 200, NULL);
        /* An empty path is the home directory; owner names come from the sandbox's passwd. */
        set_mtime(rp(&fr, "/home/user"));
        call("Stat", "{\"path\":\"\"}", 200,
             "{\"entry\":{\"name\":\"user\",\"type\":\"FILE_TYPE_DIRECTORY\",\"path\":\"/home/user\",\"size\":\"4096\","
             "\"mode\":493,\"permissions\":\"drwxr-xr-x\",\"owner\":\"user\",\"group\":\"user\"," MTIME_JSON "}}");
        /* Unknown ids are shown as numbers, as envd does. */
        put_file(rp(&fr, "/home/user/n.txt"), "", 0, 4242, 4343);
        set_mtime(rp(&fr, "/home/user/n.txt"));
        call("Stat", "{\"path\":\"/home/user/n.txt\"}", 200,
             "{\"entry\":{\"name\":\"n.txt\",\"type\":\"FILE_TYPE_FILE\",\"path\":\"/home/user/n.txt\",\"mode\":420,"
             "\"permissions\":\"-rw-r--r--\",\"owner\":\"4242\",\"group\":\"4343\"," MTIME_JSON "}}");
        call("Stat", "{\"path\":\"/\"}", 200, NULL);
        expect_code("Stat", "{\"path\":\"/nope\"}", 404, "not_found");
        /* Below a regular file: missing too (files.exists() -> false). */
        expect_code("Stat", "{\"path\":\"/home/user/a.txt/x\"}", 404, "not_found");
        expect_code("Stat", "{\"path\":\"~other/x\"}", 400, "invalid_argument");
        /* An unknown user in Authorization: unauthenticated. */
        {
                int status = 0;
                char *body = fs_call(&agent, "Stat", "{\"path\":\"/\"}", "nobody-here", &status);

                assert_int_equal(status, 401);
                assert_non_null(strstr(body, "\"code\":\"unauthenticated\""));
                free(body);
        }
}

static void test_stat_symlinks_and_special(void **state)
{
        char *want;

        assert_int_equal(symlink("a.txt", rp(&fr, "/home/user/l")), 0);
        assert_int_equal(lchown(rp(&fr, "/home/user/l"), 1000, 1000), 0);
        set_mtime(rp(&fr, "/home/user/l"));
        /* Type and mode of the target, lstat size and permissions (trap 18). */
        call("Stat", "{\"path\":\"/home/user/l\"}", 200,
             "{\"entry\":{\"name\":\"l\",\"type\":\"FILE_TYPE_FILE\",\"path\":\"/home/user/l\",\"size\":\"5\","
             "\"mode\":420,\"permissions\":\"Lrwxrwxrwx\",\"owner\":\"user\",\"group\":\"user\"," MTIME_JSON ","
             "\"symlinkTarget\":\"/home/user/a.txt\"}}");
        /* A chain through an absolute link to a directory. */
        assert_int_equal(symlink("/etc", rp(&fr, "/home/user/etc-link")), 0);
        assert_int_equal(symlink("etc-link/passwd", rp(&fr, "/home/user/pw")), 0);
        {
                json_t *j = call_json("Stat", "{\"path\":\"/home/user/pw\"}", 200), *e = json_object_get(j, "entry");

                assert_string_equal(jstr(e, "symlinkTarget"), "/etc/passwd");
                assert_string_equal(jstr(e, "type"), "FILE_TYPE_FILE");
                json_decref(j);
        }
        /* Broken: no type, no mode, the link's own path as target (Go's followSymlink). */
        assert_int_equal(symlink("/nope", rp(&fr, "/home/user/broken")), 0);
        assert_int_equal(lchown(rp(&fr, "/home/user/broken"), 1000, 1000), 0);
        set_mtime(rp(&fr, "/home/user/broken"));
        call("Stat", "{\"path\":\"/home/user/broken\"}", 200,
             "{\"entry\":{\"name\":\"broken\",\"path\":\"/home/user/broken\",\"size\":\"5\",\"permissions\":"
             "\"Lrwxrwxrwx\",\"owner\":\"user\",\"group\":\"user\"," MTIME_JSON ",\"symlinkTarget\":\"/home/user/broken\"}}");
        /* A link to the host's outside dir resolves inside the root, where it does not exist. */
        assert_int_equal(symlink(fr.outside, rp(&fr, "/home/user/host")), 0);
        want = fmt("\"symlinkTarget\":\"/home/user/host\"");
        {
                int status;
                char *body = fs_call(&agent, "Stat", "{\"path\":\"/home/user/host\"}", NULL, &status);

                assert_int_equal(status, 200);
                assert_non_null(strstr(body, want));
                assert_null(strstr(body, "FILE_TYPE_DIRECTORY"));
                free(body);
        }
        free(want);
        expect_code("Stat", "{\"path\":\"/home/user/host/secret\"}", 404, "not_found");
        /* A loop: ELOOP is invalid_argument, not a hang. */
        assert_int_equal(symlink("loop2", rp(&fr, "/home/user/loop1")), 0);
        assert_int_equal(symlink("loop1", rp(&fr, "/home/user/loop2")), 0);
        call("Stat", "{\"path\":\"/home/user/loop1\"}", 200, NULL);
        expect_code("Stat", "{\"path\":\"/home/user/loop1/x\"}", 400, "invalid_argument");
        /* A fifo: unspecified type, Go's 'p' permission letter, stat-ed without opening it. */
        assert_int_equal(mkfifo(rp(&fr, "/home/user/fifo"), 0640), 0);
        {
                json_t *j = call_json("Stat", "{\"path\":\"/home/user/fifo\"}", 200), *e = json_object_get(j, "entry");

                assert_null(json_object_get(e, "type"));
                assert_string_equal(jstr(e, "permissions"), "prw-r-----");
                assert_int_equal(json_integer_value(json_object_get(e, "mode")), 0640);
                json_decref(j);
        }
        /* Sticky and setuid bits, as Go prints them. */
        assert_int_equal(chmod(rp(&fr, "/tmp"), 01777), 0);
        {
                json_t *j = call_json("Stat", "{\"path\":\"/tmp\"}", 200), *e = json_object_get(j, "entry");

                assert_string_equal(jstr(e, "permissions"), "dtrwxrwxrwx");
                assert_int_equal(json_integer_value(json_object_get(e, "mode")), 0777);
                json_decref(j);
        }
}

static void test_metadata_in_entry(void **state)
{
        const char *p = rp(&fr, "/home/user/meta.txt");

        put_file(p, "m", 1, 1000, 1000);
        assert_int_equal(setxattr(p, "user.e2b.owner-team", "infra", 5, 0), 0);
        assert_int_equal(setxattr(p, "user.other", "x", 1, 0), 0);
        assert_int_equal(setxattr(p, "user.e2b.bad", "\xff", 1, 0), 0); /* not UTF-8: skipped */
        {
                json_t *j = call_json("Stat", "{\"path\":\"meta.txt\"}", 200);
                json_t *m = json_object_get(json_object_get(j, "entry"), "metadata");

                assert_int_equal(json_object_size(m), 1);
                assert_string_equal(jstr(m, "owner-team"), "infra");
                json_decref(j);
        }
}

/* Names and paths of a ListDir answer, "name|path" joined by ';'. */
static char *list_summary(const char *json)
{
        json_t *j = call_json("ListDir", json, 200), *entries = json_object_get(j, "entries"), *e;
        struct buf b = {0};
        size_t i;

        json_array_foreach(entries, i, e)
                buf_printf(&b, "%s%s|%s", i ? ";" : "", jstr(e, "name"), jstr(e, "path"));
        buf_append(&b, "", 1);
        json_decref(j);
        return (char *)b.data;
}

static void test_list_dir(void **state)
{
        char *s;

        mkdir(rp(&fr, "/home/user/t"), 0755);
        mkdir(rp(&fr, "/home/user/t/a"), 0755);
        mkdir(rp(&fr, "/home/user/t/a/sub"), 0755);
        put_file(rp(&fr, "/home/user/t/a/sub/deep.txt"), "d", 1, -1, -1);
        put_file(rp(&fr, "/home/user/t/a/x.txt"), "x", 1, -1, -1);
        put_file(rp(&fr, "/home/user/t/b.txt"), "b", 1, -1, -1);
        assert_int_equal(symlink("a", rp(&fr, "/home/user/t/link")), 0);

        s = list_summary("{\"path\":\"t\"}");
        assert_string_equal(s, "a|/home/user/t/a;b.txt|/home/user/t/b.txt;link|/home/user/t/link");
        free(s);
        /* depth 0 means 1, as envd reads it. */
        s = list_summary("{\"path\":\"t\",\"depth\":0}");
        assert_string_equal(s, "a|/home/user/t/a;b.txt|/home/user/t/b.txt;link|/home/user/t/link");
        free(s);
        /* Depth-first, sorted, links not followed. */
        s = list_summary("{\"path\":\"/home/user/t\",\"depth\":2}");
        assert_string_equal(s, "a|/home/user/t/a;sub|/home/user/t/a/sub;x.txt|/home/user/t/a/x.txt;"
                               "b.txt|/home/user/t/b.txt;link|/home/user/t/link");
        free(s);
        s = list_summary("{\"path\":\"/home/user/t\",\"depth\":99}");
        assert_string_equal(s, "a|/home/user/t/a;sub|/home/user/t/a/sub;deep.txt|/home/user/t/a/sub/deep.txt;"
                               "x.txt|/home/user/t/a/x.txt;b.txt|/home/user/t/b.txt;link|/home/user/t/link");
        free(s);
        /* The listed root may be a symlink: entries keep the requested path. */
        s = list_summary("{\"path\":\"/home/user/t/link\"}");
        assert_string_equal(s, "sub|/home/user/t/link/sub;x.txt|/home/user/t/link/x.txt");
        free(s);
        {
                json_t *j = call_json("ListDir", "{\"path\":\"/home/user/t\"}", 200);
                json_t *link = json_array_get(json_object_get(j, "entries"), 2);

                assert_string_equal(jstr(link, "type"), "FILE_TYPE_DIRECTORY");
                assert_string_equal(jstr(link, "symlinkTarget"), "/home/user/t/a");
                assert_string_equal(jstr(link, "permissions"), "Lrwxrwxrwx");
                json_decref(j);
        }
        expect_code("ListDir", "{\"path\":\"/home/user/t/b.txt\"}", 400, "invalid_argument");
        expect_code("ListDir", "{\"path\":\"/home/user/none\"}", 404, "not_found");
        mkdir(rp(&fr, "/home/user/empty"), 0755);
        call("ListDir", "{\"path\":\"empty\"}", 200, "{}");
}

static void test_make_dir(void **state)
{
        json_t *j, *e;
        struct stat st;

        j = call_json("MakeDir", "{\"path\":\"m1/m2\"}", 200);
        e = json_object_get(j, "entry");
        assert_string_equal(jstr(e, "name"), "m2");
        assert_string_equal(jstr(e, "path"), "/home/user/m1/m2");
        assert_string_equal(jstr(e, "type"), "FILE_TYPE_DIRECTORY");
        assert_string_equal(jstr(e, "owner"), "user");
        json_decref(j);
        /* Parents too are the user's. */
        assert_int_equal(stat(rp(&fr, "/home/user/m1"), &st), 0);
        assert_int_equal(st.st_uid, 1000);
        assert_int_equal(stat(rp(&fr, "/home/user/m1/m2"), &st), 0);
        assert_int_equal(st.st_gid, 1000);
        expect_code("MakeDir", "{\"path\":\"m1/m2\"}", 409, "already_exists");
        expect_code("MakeDir", "{\"path\":\"a.txt\"}", 400, "invalid_argument");
        expect_code("MakeDir", "{\"path\":\"a.txt/sub\"}", 400, "invalid_argument");
        /* Through a symlink to a directory: created inside its target. */
        call("MakeDir", "{\"path\":\"/home/user/t/link/made\"}", 200, NULL);
        assert_int_equal(stat(rp(&fr, "/home/user/t/a/made"), &st), 0);
}

static void test_move(void **state)
{
        json_t *j, *e;
        struct stat st;

        put_file(rp(&fr, "/home/user/mv-src.txt"), "move me", 7, 1000, 1000);
        j = call_json("Move", "{\"source\":\"mv-src.txt\",\"destination\":\"mv/deep/dst.txt\"}", 200);
        e = json_object_get(j, "entry");
        assert_string_equal(jstr(e, "path"), "/home/user/mv/deep/dst.txt");
        assert_string_equal(jstr(e, "size"), "7");
        json_decref(j);
        assert_int_equal(lstat(rp(&fr, "/home/user/mv-src.txt"), &st), -1);
        assert_int_equal(stat(rp(&fr, "/home/user/mv/deep"), &st), 0);
        assert_int_equal(st.st_uid, 1000);
        /* A symlink is moved itself, not its target. */
        assert_int_equal(symlink("/etc/passwd", rp(&fr, "/home/user/mv-link")), 0);
        call("Move", "{\"source\":\"mv-link\",\"destination\":\"mv/link2\"}", 200, NULL);
        assert_int_equal(lstat(rp(&fr, "/home/user/mv/link2"), &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(stat(rp(&fr, "/etc/passwd"), &st), 0);
        expect_code("Move", "{\"source\":\"no-such\",\"destination\":\"x\"}", 404, "not_found");
        expect_code("Move", "{\"source\":\"/\",\"destination\":\"/x\"}", 400, "invalid_argument");
}

static void test_remove(void **state)
{
        struct stat st;

        mkdir(rp(&fr, "/home/user/rm"), 0755);
        mkdir(rp(&fr, "/home/user/rm/d"), 0755);
        put_file(rp(&fr, "/home/user/rm/d/f"), "f", 1, -1, -1);
        /* Links out of the tree: removed as links, their targets untouched. */
        assert_int_equal(symlink(fr.outside, rp(&fr, "/home/user/rm/host")), 0);
        assert_int_equal(symlink("/etc", rp(&fr, "/home/user/rm/d/etc")), 0);
        assert_int_equal(symlink("/", rp(&fr, "/home/user/rm/root")), 0);
        call("Remove", "{\"path\":\"rm\"}", 200, "{}");
        assert_int_equal(lstat(rp(&fr, "/home/user/rm"), &st), -1);
        assert_int_equal(stat(rp(&fr, "/etc/passwd"), &st), 0);
        assert_true(outside_untouched(&fr));
        /* Missing is fine; a single file too. */
        call("Remove", "{\"path\":\"rm\"}", 200, "{}");
        put_file(rp(&fr, "/home/user/rm1"), "x", 1, -1, -1);
        call("Remove", "{\"path\":\"/home/user/rm1\"}", 200, "{}");
        assert_int_equal(lstat(rp(&fr, "/home/user/rm1"), &st), -1);
        expect_code("Remove", "{\"path\":\"/\"}", 400, "invalid_argument");
        expect_code("Remove", "{\"path\":\"/..\"}", 400, "invalid_argument");
}

static void test_proto_codec(void **state)
{
        Filesystem__StatRequest req = FILESYSTEM__STAT_REQUEST__INIT;
        const char *headers[] = {"content-type", "application/proto", NULL};
        Filesystem__StatResponse *resp;
        struct buf out = {0};
        uint8_t packed[256];
        size_t n;

        req.path = "/home/user/a.txt";
        n = filesystem__stat_request__pack(&req, packed);
        assert_int_equal(http_call(&agent, "POST", "/filesystem.Filesystem/Stat", NULL, headers, packed, n, 0, &out,
                                   NULL),
                         200);
        resp = filesystem__stat_response__unpack(NULL, out.len, out.data);
        assert_non_null(resp);
        assert_non_null(resp->entry);
        assert_string_equal(resp->entry->name, "a.txt");
        assert_int_equal(resp->entry->size, 5);
        assert_int_equal(resp->entry->type, FILESYSTEM__FILE_TYPE__FILE_TYPE_FILE);
        assert_int_equal(resp->entry->modified_time->nanos, MTIME_NSEC);
        filesystem__stat_response__free_unpacked(resp, NULL);
        buf_done(&out);
}

/* ---- /files ---- */

static void expect_upload(const char *const *query, const char *const *headers, const void *body, size_t n,
                          size_t chunk, int want_status, const char *want_body)
{
        struct buf out = {0};
        int status = http_call(&agent, "POST", "/files", query, headers, body, n, chunk, &out, NULL);

        buf_append(&out, "", 1);
        if (status != want_status || (want_body && strcmp((char *)out.data, want_body) != 0))
                fail_msg("upload: got %d %s\nwant %d %s", status, (char *)out.data, want_status,
                         want_body ? want_body : "(any)");
        buf_done(&out);
}

static void expect_file(const char *in_root, const void *data, size_t n, unsigned uid)
{
        size_t got_n = 0;
        char *got = get_file(rp(&fr, in_root), &got_n);
        struct stat st;

        if (!got)
                fail_msg("%s missing", in_root);
        assert_int_equal(got_n, n);
        assert_memory_equal(got, data, n);
        free(got);
        assert_int_equal(stat(rp(&fr, in_root), &st), 0);
        assert_int_equal(st.st_uid, uid);
}

#define OCTET (const char *[]){"content-type", "application/octet-stream", NULL}

static void test_upload_raw(void **state)
{
        size_t n = 3u << 20;
        uint8_t *data = malloc(n);
        struct buf gz = {0};
        struct stat st;

        assert_int_equal(getrandom(data, n, 0), (ssize_t)n);
        expect_upload((const char *[]){"path", "up/raw.bin", NULL}, OCTET, data, n, 65536, 200,
                      "[{\"name\":\"raw.bin\",\"path\":\"/home/user/up/raw.bin\",\"type\":\"file\"}]");
        expect_file("/home/user/up/raw.bin", data, n, 1000);
        assert_int_equal(stat(rp(&fr, "/home/user/up"), &st), 0);
        assert_int_equal(st.st_uid, 1000);
        /* Overwrite in place: same inode, truncated. */
        {
                struct stat before, after;

                assert_int_equal(stat(rp(&fr, "/home/user/up/raw.bin"), &before), 0);
                expect_upload((const char *[]){"path", "up/raw.bin", NULL}, OCTET, "short", 5, 0, 200, NULL);
                assert_int_equal(stat(rp(&fr, "/home/user/up/raw.bin"), &after), 0);
                assert_int_equal(before.st_ino, after.st_ino);
                expect_file("/home/user/up/raw.bin", "short", 5, 1000);
        }
        /* gzip, in odd-sized frames. */
        gzip_bytes(data, n, &gz);
        expect_upload((const char *[]){"path", "/home/user/up/gz.bin", NULL},
                      (const char *[]){"content-type", "application/octet-stream", "content-encoding", "gzip", NULL},
                      gz.data, gz.len, 7777, 200, NULL);
        expect_file("/home/user/up/gz.bin", data, n, 1000);
        /* Truncated gzip, unknown encodings: 400. */
        expect_upload((const char *[]){"path", "up/gz2.bin", NULL},
                      (const char *[]){"content-type", "application/octet-stream", "content-encoding", "gzip", NULL},
                      gz.data, gz.len / 2, 0, 400, NULL);
        expect_upload((const char *[]){"path", "up/br.bin", NULL},
                      (const char *[]){"content-type", "application/octet-stream", "content-encoding", "br", NULL},
                      "x", 1, 0, 400, NULL);
        buf_done(&gz);
        /* Empty body: an empty file. As root, owned by root. */
        expect_upload((const char *[]){"path", "/root/empty", "username", "root", NULL}, OCTET, NULL, 0, 0, 200,
                      "[{\"name\":\"empty\",\"path\":\"/root/empty\",\"type\":\"file\"}]");
        expect_file("/root/empty", "", 0, 0);
        /* Raw needs a path; other content types are refused; a directory is 400; unknown user 401. */
        expect_upload(NULL, OCTET, "x", 1, 0, 400, NULL);
        expect_upload((const char *[]){"path", "x.txt", NULL}, (const char *[]){"content-type", "text/plain", NULL},
                      "x", 1, 0, 400, NULL);
        expect_upload((const char *[]){"path", "up", NULL}, OCTET, "x", 1, 0, 400, NULL);
        expect_upload((const char *[]){"path", "x.txt", "username", "ghost", NULL}, OCTET, "x", 1, 0, 401, NULL);
        free(data);
}

#define MP_CT (const char *[]){"content-type", "multipart/form-data; boundary=----nestboxXyZ", NULL}
#define MP_PART(path) "------nestboxXyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" path \
                      "\"\r\nContent-Type: application/octet-stream\r\n\r\n"
#define MP_END "\r\n------nestboxXyZ--\r\n"

static void test_upload_multipart(void **state)
{
        /* Content that looks like a delimiter almost everywhere. */
        static const char tricky[] = "a\r\n------nestboxXy\r\n--\r\n------nestbox\r\r\n\r\n-";
        char *body;

        body = fmt("preamble\r\n" MP_PART("ignored-name.txt") "%s" MP_END "epilogue", tricky);
        /* One byte per frame: the parser sees every split. */
        expect_upload((const char *[]){"path", "mp/one.txt", NULL}, MP_CT, body, strlen(body), 1, 200,
                      "[{\"name\":\"one.txt\",\"path\":\"/home/user/mp/one.txt\",\"type\":\"file\"}]");
        expect_file("/home/user/mp/one.txt", tricky, strlen(tricky), 1000);
        free(body);

        /* Several files, names from the parts; a part not named "file" is skipped. */
        body = fmt(MP_PART("mp/two.txt") "two" "\r\n------nestboxXyZ\r\n"
                   "Content-Disposition: form-data; name=\"other\"\r\n\r\nzzz"
                   "\r\n------nestboxXyZ\r\nContent-Disposition: form-data; name=file; filename=\"/home/user/mp/three.txt\""
                   "\r\n\r\nthree" MP_END);
        expect_upload(NULL, MP_CT, body, strlen(body), 5, 200,
                      "[{\"name\":\"two.txt\",\"path\":\"/home/user/mp/two.txt\",\"type\":\"file\"},"
                      "{\"name\":\"three.txt\",\"path\":\"/home/user/mp/three.txt\",\"type\":\"file\"}]");
        expect_file("/home/user/mp/two.txt", "two", 3, 1000);
        expect_file("/home/user/mp/three.txt", "three", 5, 1000);
        free(body);

        /* The same path twice: 400 (the first one was written). */
        body = fmt(MP_PART("mp/dup.txt") "1\r\n------nestboxXyZ\r\n"
                   "Content-Disposition: form-data; name=\"file\"; filename=\"/home/user/mp/dup.txt\"\r\n\r\n2" MP_END);
        expect_upload(NULL, MP_CT, body, strlen(body), 0, 400, NULL);
        expect_file("/home/user/mp/dup.txt", "1", 1, 1000);
        free(body);

        /* gzip over multipart; RFC 2231 file names. */
        {
                struct buf gz = {0};

                body = fmt("------nestboxXyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                           "filename*=UTF-8''mp%%2F%%E2%%82%%AC.txt\r\n\r\neuro" MP_END);
                gzip_bytes(body, strlen(body), &gz);
                expect_upload(NULL,
                              (const char *[]){"content-type", "multipart/form-data; boundary=\"----nestboxXyZ\"",
                                               "content-encoding", "GZIP", NULL},
                              gz.data, gz.len, 3, 200,
                              "[{\"name\":\"\xE2\x82\xAC.txt\",\"path\":\"/home/user/mp/\xE2\x82\xAC.txt\",\"type\":\"file\"}]");
                buf_done(&gz);
                free(body);
        }
        /* Truncated, junk, no boundary: 400. */
        body = fmt(MP_PART("mp/trunc.txt") "never ends");
        expect_upload(NULL, MP_CT, body, strlen(body), 0, 400, NULL);
        free(body);
        expect_upload(NULL, MP_CT, "garbage only", 12, 0, 400, NULL);
        expect_upload(NULL, (const char *[]){"content-type", "multipart/form-data", NULL}, "x", 1, 0, 400, NULL);
        /* A part with a file name but no usable path when there is no query path. */
        body = fmt("------nestboxXyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx" MP_END);
        expect_upload(NULL, MP_CT, body, strlen(body), 0, 400, NULL);
        free(body);
}

static void test_upload_metadata(void **state)
{
        char v[64];

        expect_upload((const char *[]){"path", "meta-up.txt", NULL},
                      (const char *[]){"content-type", "application/octet-stream", "x-metadata-team", "infra",
                                       "x-metadata-Build-Id", "42", NULL},
                      "m", 1, 0, 200, NULL);
        assert_int_equal(getxattr(rp(&fr, "/home/user/meta-up.txt"), "user.e2b.team", v, sizeof(v)), 5);
        {
                int status = 0;
                char *body = fs_call(&agent, "Stat", "{\"path\":\"meta-up.txt\"}", NULL, &status);

                assert_non_null(strstr(body, "\"metadata\":{"));
                assert_non_null(strstr(body, "\"team\":\"infra\""));
                free(body);
        }
        /* A new upload without metadata clears it (O_TRUNC keeps xattrs; envd clears). */
        expect_upload((const char *[]){"path", "meta-up.txt", NULL}, OCTET, "n", 1, 0, 200,
                      "[{\"name\":\"meta-up.txt\",\"path\":\"/home/user/meta-up.txt\",\"type\":\"file\"}]");
        assert_int_equal(getxattr(rp(&fr, "/home/user/meta-up.txt"), "user.e2b.team", v, sizeof(v)), -1);
        /* The answer carries what was stored. */
        expect_upload((const char *[]){"path", "meta-up.txt", NULL},
                      (const char *[]){"content-type", "application/octet-stream", "x-metadata-k", "v", NULL}, "o", 1,
                      0, 200,
                      "[{\"metadata\":{\"k\":\"v\"},\"name\":\"meta-up.txt\",\"path\":\"/home/user/meta-up.txt\","
                      "\"type\":\"file\"}]");
        /* Non-printable values are refused before anything is written. */
        expect_upload((const char *[]){"path", "meta-bad.txt", NULL},
                      (const char *[]){"content-type", "application/octet-stream", "x-metadata-k", "a\tb", NULL}, "o",
                      1, 0, 400, NULL);
}

static void test_download(void **state)
{
        struct buf out = {0};
        json_t *head = NULL, *h;
        size_t n = 5u << 20;
        uint8_t *data = malloc(n);

        assert_int_equal(http_call(&agent, "GET", "/files", (const char *[]){"path", "a.txt", NULL}, NULL, NULL, 0, 0,
                                   &out, &head),
                         200);
        assert_int_equal(out.len, 5);
        assert_memory_equal(out.data, "hello", 5);
        h = json_object_get(head, "headers");
        assert_string_equal(jstr(h, "content-length"), "5");
        assert_string_equal(jstr(h, "Content-Type"), "application/octet-stream");
        json_decref(head);
        buf_reset(&out);

        assert_int_equal(getrandom(data, n, 0), (ssize_t)n);
        put_file(rp(&fr, "/home/user/big.bin"), data, n, 1000, 1000);
        assert_int_equal(http_call(&agent, "GET", "/files", (const char *[]){"path", "/home/user/big.bin", NULL},
                                   (const char *[]){"accept-encoding", "gzip, deflate", NULL}, NULL, 0, 0, &out, NULL),
                         200);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.data, data, n);
        buf_reset(&out);
        free(data);

        /* Empty: Content-Length 0 (the SDK special-cases it). */
        put_file(rp(&fr, "/home/user/empty.txt"), "", 0, 1000, 1000);
        assert_int_equal(http_call(&agent, "GET", "/files", (const char *[]){"path", "empty.txt", NULL}, NULL, NULL, 0,
                                   0, &out, &head),
                         200);
        assert_string_equal(jstr(json_object_get(head, "headers"), "content-length"), "0");
        json_decref(head);
        buf_reset(&out);

        assert_int_equal(http_call(&agent, "GET", "/files", (const char *[]){"path", "nope", NULL}, NULL, NULL, 0, 0,
                                   &out, NULL),
                         404);
        buf_append(&out, "", 1);
        assert_string_equal((char *)out.data, "{\"code\":404,\"message\":\"path '/home/user/nope' does not exist\"}");
        buf_reset(&out);
        assert_int_equal(http_call(&agent, "GET", "/files", (const char *[]){"path", "/home", NULL}, NULL, NULL, 0, 0,
                                   &out, NULL),
                         400);
        /* No path: the home directory, which is a directory (envd: 400). */
        assert_int_equal(http_call(&agent, "GET", "/files", NULL, NULL, NULL, 0, 0, &out, NULL), 400);
        assert_int_equal(http_call(&agent, "GET", "/files",
                                   (const char *[]){"path", "a.txt", NULL},
                                   (const char *[]){"accept-encoding", "gzip, identity;q=0", NULL}, NULL, 0, 0, &out,
                                   NULL),
                         406);
        assert_int_equal(http_call(&agent, "DELETE", "/files", NULL, NULL, NULL, 0, 0, &out, NULL), 405);
        /* As another user: relative paths go to that user's home. */
        mkdir(rp(&fr, "/home/other"), 0755);
        put_file(rp(&fr, "/home/other/o.txt"), "other", 5, 1001, 1001);
        buf_reset(&out);
        assert_int_equal(http_call(&agent, "GET", "/files", (const char *[]){"path", "o.txt", "username", "other", NULL},
                                   NULL, NULL, 0, 0, &out, NULL),
                         200);
        assert_int_equal(out.len, 5);
        buf_done(&out);
}

static bool maps_mention(int pid, const char *what)
{
        char p[64];
        size_t n = 0;
        char *maps;
        bool found;

        snprintf(p, sizeof(p), "/proc/%d/maps", pid);
        maps = get_file(p, &n);
        found = maps && strstr(maps, what);
        free(maps);
        return found;
}

/* A client that stops reading: the agent reads the file only as the socket
 * drains, so its memory stays flat; the same for a big upload. */
static void test_streaming_memory(void **state)
{
        size_t n = 96u << 20, got = 0;
        int fd = open(rp(&fr, "/home/user/huge.bin"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        long before, during, peak = 0;
        bool sanitized;
        uint8_t *chunk = calloc(1, 1u << 20);
        struct exch e;

        for (size_t i = 0; i < n >> 20; i++) {
                memset(chunk, (int)i, 1u << 20);
                assert_int_equal(write(fd, chunk, 1u << 20), 1 << 20);
        }
        close(fd);
        /* ASan's quarantine keeps freed buffers resident: memory is only meaningful unsanitized. */
        sanitized = maps_mention(agent.pid, "libasan");
        before = rss_kib(agent.pid);
        assert_int_equal(http_open(&agent, "GET", "/files", (const char *[]){"path", "huge.bin", NULL}, NULL, &e), 0);
        assert_int_equal(exch_send_end(&e), 0);
        assert_int_equal(exch_read_head(&e, 10000), 0);
        assert_int_equal(e.status, 200);
        usleep(300000);
        during = rss_kib(agent.pid);
        peak = during;
        if (!sanitized && during - before > 16 * 1024)
                fail_msg("agent RSS grew from %ld to %ld KiB with a stalled download", before, during);
        /* Now drain it all and check every byte. */
        while (!e.ended) {
                assert_int_equal(exch_read_all(&e, 30000), 0);
        }
        got = buf_avail(&e.body);
        assert_int_equal(got, n);
        for (size_t i = 0; i < n >> 20; i++)
                assert_int_equal(buf_head(&e.body)[i << 20], (uint8_t)i);
        exch_close(&e);

        /* A 96 MiB upload in 1 MiB frames. */
        assert_int_equal(http_open(&agent, "POST", "/files", (const char *[]){"path", "huge-up.bin", NULL}, OCTET, &e),
                         0);
        for (size_t i = 0; i < n >> 20; i++) {
                memset(chunk, (int)(i + 1), 1u << 20);
                assert_int_equal(exch_send_body(&e, chunk, 1u << 20), 0);
                if (i == (n >> 21)) {
                        during = rss_kib(agent.pid);
                        peak = during > peak ? during : peak;
                        if (!sanitized && during - before > 16 * 1024)
                                fail_msg("agent RSS grew from %ld to %ld KiB mid-upload", before, during);
                }
        }
        assert_int_equal(exch_send_end(&e), 0);
        assert_int_equal(exch_read_all(&e, 30000), 0);
        assert_int_equal(e.status, 200);
        exch_close(&e);
        free(chunk);
        {
                struct stat st;

                assert_int_equal(stat(rp(&fr, "/home/user/huge-up.bin"), &st), 0);
                assert_int_equal((size_t)st.st_size, n);
        }
        unlink(rp(&fr, "/home/user/huge.bin"));
        unlink(rp(&fr, "/home/user/huge-up.bin"));
        print_message("agent RSS %ld KiB before, %ld KiB at most while moving 2 x 96 MiB%s\n", before, peak,
                      sanitized ? " (sanitized: not checked)" : "");
}

/* ---- watches ---- */

static void open_watch(const char *json, const char *timeout_ms, struct exch *e)
{
        const char *headers[] = {"content-type", "application/connect+json", "keepalive-ping-interval", "50",
                                 timeout_ms ? "connect-timeout-ms" : NULL, timeout_ms, NULL};
        struct buf body = {0};

        envelope(&body, 0, json, strlen(json));
        assert_int_equal(exch_open(&agent, "POST", "/filesystem.Filesystem/WatchDir", headers, body.data, body.len,
                                   true, e),
                         0);
        buf_done(&body);
        assert_int_equal(exch_read_head(e, 10000), 0);
        assert_int_equal(e->status, 200);
}

#define EV(name, type) "{\"filesystem\":{\"name\":\"" name "\",\"type\":\"EVENT_TYPE_" type "\"}}"

static void test_watch_dir(void **state)
{
        const char *w = rp(&fr, "/home/user/w");
        char p[512], p2[512];
        struct exch e;
        int fd;

        mkdir(w, 0755);
        open_watch("{\"path\":\"w\",\"recursive\":true}", "60000", &e);
        exch_expect_payload(&e, 0, "{\"start\":{}}");

        snprintf(p, sizeof(p), "%s/f.txt", w);
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        exch_expect_payload(&e, 0, EV("f.txt", "CREATE"));
        assert_int_equal(write(fd, "x", 1), 1);
        exch_expect_payload(&e, 0, EV("f.txt", "WRITE"));
        close(fd);
        assert_int_equal(chmod(p, 0600), 0);
        exch_expect_payload(&e, 0, EV("f.txt", "CHMOD"));
        snprintf(p2, sizeof(p2), "%s/g.txt", w);
        assert_int_equal(rename(p, p2), 0);
        exch_expect_payload(&e, 0, EV("f.txt", "RENAME"));
        exch_expect_payload(&e, 0, EV("g.txt", "CREATE"));
        assert_int_equal(unlink(p2), 0);
        exch_expect_payload(&e, 0, EV("g.txt", "REMOVE"));

        /* Recursive: a new directory is followed at once. */
        snprintf(p, sizeof(p), "%s/d1", w);
        assert_int_equal(mkdir(p, 0755), 0);
        exch_expect_payload(&e, 0, EV("d1", "CREATE"));
        usleep(100000); /* the agent watches d1 right after sending its CREATE */
        snprintf(p, sizeof(p), "%s/d1/h", w);
        put_file(p, "", 0, -1, -1);
        exch_expect_payload(&e, 0, EV("d1/h", "CREATE"));
        exch_expect_payload(&e, 0, EV("d1/h", "CHMOD"));
        /* A directory moved in from outside the watch is followed too. */
        snprintf(p, sizeof(p), "%s/moved", rp(&fr, "/home/user"));
        mkdir(p, 0755);
        snprintf(p2, sizeof(p2), "%s/moved", w);
        assert_int_equal(rename(p, p2), 0);
        exch_expect_payload(&e, 0, EV("moved", "CREATE"));
        usleep(100000);
        snprintf(p, sizeof(p), "%s/moved/in", w);
        assert_int_equal(mkdir(p, 0755), 0);
        exch_expect_payload(&e, 0, EV("moved/in", "CREATE"));
        /* A directory renamed inside the watch reports its new names. */
        snprintf(p2, sizeof(p2), "%s/renamed", w);
        snprintf(p, sizeof(p), "%s/moved", w);
        assert_int_equal(rename(p, p2), 0);
        exch_expect_payload(&e, 0, EV("moved", "RENAME"));
        exch_expect_payload(&e, 0, EV("renamed", "CREATE"));
        usleep(100000);
        snprintf(p, sizeof(p), "%s/renamed/in/z", w);
        put_file(p, "", 0, -1, -1);
        exch_expect_payload(&e, 0, EV("renamed/in/z", "CREATE"));
        exch_expect_payload(&e, 0, EV("renamed/in/z", "CHMOD"));
        exch_close(&e); /* stop(): the agent drops the watch */

        /* mkdir -p: every level is reported (some by the scan of the new directory). */
        open_watch("{\"path\":\"/home/user/w\",\"recursive\":true}", NULL, &e);
        exch_expect_payload(&e, 0, "{\"start\":{}}");
        snprintf(p, sizeof(p), "%s/p", w);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/p/q", w);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/p/q/r", w);
        mkdir(p, 0755);
        {
                bool seen_p = false, seen_q = false, seen_r = false;

                while (!(seen_p && seen_q && seen_r)) {
                        char *got = exch_expect_next(&e, 0);

                        seen_p |= strcmp(got, EV("p", "CREATE")) == 0;
                        seen_q |= strcmp(got, EV("p/q", "CREATE")) == 0;
                        seen_r |= strcmp(got, EV("p/q/r", "CREATE")) == 0;
                        free(got);
                }
        }
        usleep(100000);
        snprintf(p, sizeof(p), "%s/p/q/r/deep.txt", w);
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        close(fd);
        for (;;) {
                char *got = exch_expect_next(&e, 0);
                bool done = strcmp(got, EV("p/q/r/deep.txt", "CREATE")) == 0;

                free(got);
                if (done)
                        break;
        }
        exch_close(&e);

        /* Not recursive, with entries: events below subdirectories are not seen. */
        open_watch("{\"path\":\"w\",\"includeEntry\":true}", NULL, &e);
        exch_expect_payload(&e, 0, "{\"start\":{}}");
        snprintf(p, sizeof(p), "%s/p/q/r/ignored.txt", w);
        put_file(p, "", 0, -1, -1);
        snprintf(p, sizeof(p), "%s/top.txt", w);
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        close(fd);
        {
                char *got = exch_expect_next(&e, 0);
                const char *prefix = "{\"filesystem\":{\"name\":\"top.txt\",\"type\":\"EVENT_TYPE_CREATE\",\"entry\":"
                                     "{\"name\":\"top.txt\",\"type\":\"FILE_TYPE_FILE\",\"path\":\"/home/user/w/top.txt\"";

                if (strncmp(got, prefix, strlen(prefix)) != 0)
                        fail_msg("got %s", got);
                free(got);
        }
        unlink(p);
        exch_expect_payload(&e, 0, EV("top.txt", "REMOVE")); /* no entry on REMOVE */
        exch_close(&e);
}

static void test_watch_errors_and_timeout(void **state)
{
        struct exch e;
        char *got;

        open_watch("{\"path\":\"/home/user/no-such\"}", NULL, &e);
        got = exch_expect_next(&e, 2);
        assert_non_null(strstr(got, "\"code\":\"not_found\""));
        free(got);
        exch_close(&e);
        open_watch("{\"path\":\"/home/user/a.txt\"}", NULL, &e);
        got = exch_expect_next(&e, 2);
        assert_non_null(strstr(got, "\"code\":\"invalid_argument\""));
        free(got);
        exch_close(&e);
        /* Connect-Timeout-Ms ends the stream with deadline_exceeded (TimeoutError in the SDK). */
        open_watch("{\"path\":\"/home/user/w\"}", "300", &e);
        exch_expect_payload(&e, 0, "{\"start\":{}}");
        exch_expect_payload(&e, 2, "{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"context deadline exceeded\"}}");
        assert_int_equal(exch_read_all(&e, 10000), 0);
        exch_close(&e);
}

static void test_polling_watcher(void **state)
{
        json_t *j;
        char *req, *id;
        char p[512];

        j = call_json("CreateWatcher", "{\"path\":\"w\"}", 200);
        id = strdup(jstr(j, "watcherId"));
        assert_true(id[0] == 'w');
        json_decref(j);
        snprintf(p, sizeof(p), "%s/polled.txt", rp(&fr, "/home/user/w"));
        put_file(p, "", 0, -1, -1);
        unlink(p);
        usleep(100000);
        req = fmt("{\"watcherId\":\"%s\"}", id);
        call("GetWatcherEvents", req, 200,
             "{\"events\":[{\"name\":\"polled.txt\",\"type\":\"EVENT_TYPE_CREATE\"},"
             "{\"name\":\"polled.txt\",\"type\":\"EVENT_TYPE_CHMOD\"},"
             "{\"name\":\"polled.txt\",\"type\":\"EVENT_TYPE_REMOVE\"}]}");
        call("GetWatcherEvents", req, 200, "{}");
        call("RemoveWatcher", req, 200, "{}");
        expect_code("GetWatcherEvents", req, 404, "not_found");
        expect_code("RemoveWatcher", req, 404, "not_found");
        expect_code("CreateWatcher", "{\"path\":\"/home/user/no-such\"}", 404, "not_found");
        free(req);
        free(id);
}

static int setup(void **state)
{
        if (froot_setup(&fr) < 0)
                return -1;
        return fagent_start(agent_binary, &fr, &agent);
}

static int teardown(void **state)
{
        int r = agent_stop_clean(&agent);

        froot_teardown(&fr);
        return r;
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stat_file),
                cmocka_unit_test(test_stat_symlinks_and_special),
                cmocka_unit_test(test_metadata_in_entry),
                cmocka_unit_test(test_list_dir),
                cmocka_unit_test(test_make_dir),
                cmocka_unit_test(test_move),
                cmocka_unit_test(test_remove),
                cmocka_unit_test(test_proto_codec),
                cmocka_unit_test(test_upload_raw),
                cmocka_unit_test(test_upload_multipart),
                cmocka_unit_test(test_upload_metadata),
                cmocka_unit_test(test_download),
                cmocka_unit_test(test_streaming_memory),
                cmocka_unit_test(test_watch_dir),
                cmocka_unit_test(test_watch_errors_and_timeout),
                cmocka_unit_test(test_polling_watcher),
        };

        int pre = agent_test_preamble(argc, argv, "PATH-TO-nestbox-agent");

        if (pre != 0)
                return pre;
        agent_binary = argv[1];
        return cmocka_run_group_tests(tests, setup, teardown);
}
