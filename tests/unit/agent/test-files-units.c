/* Host-side unit tests of the filesystem service's pure parts: the streaming
 * multipart parser (every split point, then a mutation fuzz run that the
 * sanitized build checks for memory errors), SHA-256 and URL signatures,
 * path expansion and cleaning, and Go's FileMode strings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "buf.h"
#include "files-internal.h"
#include "files-multipart.h"
#include "fs-entry.h"
#include "fs-path.h"

/* ---- multipart ---- */

struct log {
        struct buf b; /* "B(name,filename)" "D(bytes)" "E" as callbacks come */
        int depth;    /* 1 inside a part */
        size_t data;
        bool bad_nesting, last_data;
};

static int on_begin(void *u, const char *name, const char *filename)
{
        struct log *l = u;

        if (l->depth != 0)
                l->bad_nesting = true;
        l->depth = 1;
        l->last_data = false;
        buf_printf(&l->b, "B(%s,%s)", name ? name : "-", filename ? filename : "-");
        return 0;
}

static int on_data(void *u, const void *p, size_t n)
{
        struct log *l = u;

        if (l->depth != 1 || n == 0)
                l->bad_nesting = true;
        l->data += n;
        /* Adjacent data merges, so the log does not depend on chunking. */
        if (l->last_data)
                l->b.len--; /* reopen "D(...)" */
        else
                buf_append(&l->b, "D(", 2);
        buf_append(&l->b, p, n);
        buf_append(&l->b, ")", 1);
        l->last_data = true;
        return 0;
}

static int on_end(void *u)
{
        struct log *l = u;

        if (l->depth != 1)
                l->bad_nesting = true;
        l->depth = 0;
        l->last_data = false;
        buf_append(&l->b, "E", 1);
        return 0;
}

static const struct multipart_ops log_ops = {on_begin, on_data, on_end};

/* Parses body in the chunks given by cuts (sorted offsets); returns the log (malloc'd) or NULL on error. */
static char *parse(const char *boundary, const char *body, size_t n, const size_t *cuts, size_t n_cuts, int *ret)
{
        struct multipart *m = NULL;
        struct nb_error err = {0};
        struct log l = {0};
        size_t off = 0;
        int r;

        assert_int_equal(multipart_new(boundary, &log_ops, &l, &m), 0);
        r = 0;
        for (size_t i = 0; i <= n_cuts && r >= 0; i++) {
                size_t end = i < n_cuts ? cuts[i] : n;

                r = multipart_feed(m, body + off, end - off, &err);
                off = end;
        }
        if (r >= 0)
                r = multipart_finish(m, &err);
        multipart_free(m);
        *ret = r;
        assert_false(l.bad_nesting);
        buf_append(&l.b, "", 1);
        return (char *)l.b.data;
}

static const char body2[] = "preamble \r\n--b--x\r\n"
                            "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a/b.txt\"\r\n"
                            "Content-Type: text/plain\r\n\r\n"
                            "line1\r\n--X\r\n--XXX\r\n\r\r\n-\r\n"
                            "--XX  \t\r\nContent-Disposition: form-data; name=other\r\n\r\n"
                            "\r\n--XX\r\ncontent-disposition: FORM-DATA; NAME=\"file\"; filename=\"C:\\dir\\f\\\"q.txt\"\r\n\r\n"
                            "z\r\n--XX--\r\nepilogue --XX\r\n";
static const char want2[] = "B(file,a/b.txt)D(line1\r\n--X\r\n--XXX\r\n\r\r\n-)EB(other,-)EB(file,C:\\dir\\f\"q.txt)D(z)E";

static void test_multipart_every_split(void **state)
{
        size_t n = strlen(body2);
        int r;
        char *got;

        got = parse("XX", body2, n, NULL, 0, &r);
        assert_int_equal(r, 0);
        assert_string_equal(got, want2);
        free(got);
        for (size_t i = 0; i <= n; i++) {
                size_t cuts[1] = {i};

                got = parse("XX", body2, n, cuts, 1, &r);
                assert_int_equal(r, 0);
                assert_string_equal(got, want2);
                free(got);
        }
        for (size_t i = 0; i <= n; i += 3)
                for (size_t j = i; j <= n; j += 5) {
                        size_t cuts[2] = {i, j};

                        got = parse("XX", body2, n, cuts, 2, &r);
                        assert_int_equal(r, 0);
                        assert_string_equal(got, want2);
                        free(got);
                }
        /* One byte at a time. */
        {
                size_t *cuts = calloc(n, sizeof(*cuts));

                for (size_t i = 0; i < n; i++)
                        cuts[i] = i;
                got = parse("XX", body2, n, cuts, n, &r);
                assert_int_equal(r, 0);
                assert_string_equal(got, want2);
                free(got);
                free(cuts);
        }
}

static void test_multipart_errors(void **state)
{
        static const char *bad[] = {
                "",                                          /* no boundary at all */
                "--XX\r\n\r\nbody without end",              /* truncated */
                "--XXjunk\r\n\r\n\r\n--XXX",                /* never a real boundary */
                "--XX\r\nno colon here\r\n\r\nx\r\n--XX--", /* header without ':' */
                "--XX\rx",                                   /* CR without LF */
                "--XX\r\nContent-Disposition: form-data; name=\"unterminated\r\n\r\nx\r\n--XX--",
        };
        char big[MULTIPART_HEADERS_MAX + 64];
        int r;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *got = parse("XX", bad[i], strlen(bad[i]), NULL, 0, &r);

                if (r != -EBADMSG)
                        fail_msg("case %zu parsed (%d): %s", i, r, got);
                free(got);
        }
        /* Headers are bounded. */
        memset(big, 'h', sizeof(big));
        memcpy(big, "--XX\r\nX-A: ", 11);
        {
                char *got = parse("XX", big, sizeof(big), NULL, 0, &r);

                assert_int_equal(r, -EBADMSG);
                free(got);
        }
        /* Empty parts and no headers are fine. */
        {
                static const char ok[] = "--XX\r\n\r\n\r\n--XX\r\n\r\nq\r\n--XX--";
                char *got = parse("XX", ok, strlen(ok), NULL, 0, &r);

                assert_int_equal(r, 0);
                assert_string_equal(got, "B(-,-)EB(-,-)D(q)E");
                free(got);
        }
}

static void test_multipart_boundary_param(void **state)
{
        char b[MULTIPART_BOUNDARY_MAX + 1];

        assert_int_equal(multipart_boundary("multipart/form-data; boundary=----formdata-undici-0123", b), 0);
        assert_string_equal(b, "----formdata-undici-0123");
        assert_int_equal(multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\"", b), 0);
        assert_string_equal(b, "a b:c");
        assert_int_equal(multipart_boundary("multipart/mixed; charset=x; boundary=z", b), 0);
        assert_string_equal(b, "z");
        assert_int_equal(multipart_boundary("multipart/form-data", b), -EINVAL);
        assert_int_equal(multipart_boundary("multipart/form-data; boundary=", b), -EINVAL);
        assert_int_equal(multipart_boundary("text/plain; boundary=x", b), -EINVAL);
        assert_int_equal(multipart_boundary(NULL, b), -EINVAL);
        assert_int_equal(
                multipart_boundary("multipart/form-data; boundary="
                                   "12345678901234567890123456789012345678901234567890123456789012345678901",
                                   b),
                -EINVAL);
}

static uint32_t rnd_state = 0x12345678;
static uint32_t rnd(void)
{
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 17;
        rnd_state ^= rnd_state << 5;
        return rnd_state;
}

/* Mutated bodies in random chunks: the parser must never read or write out of
 * bounds (ASan in the sanitized build), never emit more than it was given, and
 * keep callbacks well nested. */
static void test_multipart_fuzz(void **state)
{
        size_t base_n = strlen(body2);
        char *buf = malloc(base_n * 2 + 64);

        for (int iter = 0; iter < 20000; iter++) {
                size_t n = base_n, cuts[16], n_cuts = rnd() % 16;
                struct multipart *m = NULL;
                struct nb_error err = {0};
                struct log l = {0};
                size_t off = 0;
                int r = 0;

                memcpy(buf, body2, n);
                for (int k = (int)(rnd() % 8); k >= 0; k--) {
                        size_t at = n ? rnd() % n : 0;

                        switch (rnd() % 4) {
                        case 0:
                                buf[at] ^= (char)(1u << (rnd() % 8));
                                break;
                        case 1:
                                if (n > 1) {
                                        memmove(buf + at, buf + at + 1, n - at - 1);
                                        n--;
                                }
                                break;
                        case 2:
                                memmove(buf + at + 1, buf + at, n - at);
                                buf[at] = "\r\n-X\"; =\\"[rnd() % 9];
                                n++;
                                break;
                        default:
                                buf[at] = (char)rnd();
                                break;
                        }
                        if (n >= base_n * 2)
                                break;
                }
                for (size_t i = 0; i < n_cuts; i++)
                        cuts[i] = n ? rnd() % (n + 1) : 0;
                for (size_t i = 1; i < n_cuts; i++)
                        for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                                size_t t = cuts[j];

                                cuts[j] = cuts[j - 1];
                                cuts[j - 1] = t;
                        }
                assert_int_equal(multipart_new("XX", &log_ops, &l, &m), 0);
                for (size_t i = 0; i <= n_cuts && r >= 0; i++) {
                        size_t end = i < n_cuts ? cuts[i] : n;

                        r = multipart_feed(m, buf + off, end - off, &err);
                        off = end;
                }
                if (r >= 0)
                        (void)multipart_finish(m, &err);
                multipart_free(m);
                assert_false(l.bad_nesting);
                assert_true(l.data <= n);
                buf_done(&l.b);
        }
        free(buf);
}

/* ---- SHA-256 and signatures ---- */

static void test_signature(void **state)
{
        char sig[64];

        files_signature("/home/user/a.txt", FILES_READ, "", "tok", NULL, sig, sizeof(sig));
        assert_string_equal(sig, "v1_Zkbb3914oLJLvMBzCAHQhm2ydBLxbSx2eQUR/kLdvIY");
        files_signature("/home/user/a.txt", FILES_READ, "", "tok", "4102444800", sig, sizeof(sig));
        assert_string_equal(sig, "v1_Pz4gVDnCTqKod6ED03KYR9gFwqd3RujcRjep4eFmJeM");
        files_signature("up.txt", FILES_WRITE, "root", "tok", NULL, sig, sizeof(sig));
        assert_string_equal(sig, "v1_uqckW2ceY3ocS2w63qxv4BjHMMX/Jg7EUwOnkQpoxjk");
}

/* ---- paths and modes ---- */

static void expect_clean(const char *in, const char *want)
{
        char *got = NULL;

        assert_int_equal(fs_path_clean(in, &got), 0);
        assert_string_equal(got, want);
        free(got);
}

static void expect_resolve(const char *in, const char *workdir, const char *want)
{
        struct nb_error err = {0};
        char *got = NULL;
        int r = fs_path_resolve(in, "/home/user", workdir, &got, &err);

        if (!want) {
                assert_true(r < 0);
                assert_true(err.message[0] != '\0');
                return;
        }
        assert_int_equal(r, 0);
        assert_string_equal(got, want);
        free(got);
}

static void test_paths(void **state)
{
        expect_clean("", "/");
        expect_clean("/", "/");
        expect_clean("a/../../b", "/b");
        expect_clean("/a//b/./c/", "/a/b/c");
        expect_clean("/..", "/");
        expect_clean("/a/b/../../..", "/");
        expect_clean("...", "/...");
        expect_clean("/a/..b/.c", "/a/..b/.c");

        expect_resolve("", NULL, "/home/user");
        expect_resolve(NULL, "/work", "/work");
        expect_resolve("", "/work", "/work");
        expect_resolve("x", "/work", "/home/user/x"); /* relative: home, not the workdir */
        expect_resolve("~", NULL, "/home/user");
        expect_resolve("~/x/../y", NULL, "/home/user/y");
        expect_resolve("~other/x", NULL, NULL);
        expect_resolve("../../../etc", NULL, "/etc");
        expect_resolve("/abs/./p/", NULL, "/abs/p");

        assert_string_equal(fs_path_base("/"), "/");
        assert_string_equal(fs_path_base("/a"), "a");
        assert_string_equal(fs_path_base("/a/b.txt"), "b.txt");
}

static void test_mode_strings(void **state)
{
        static const struct {
                mode_t mode;
                const char *want;
        } cases[] = {
                {S_IFREG | 0644, "-rw-r--r--"}, {S_IFDIR | 0755, "drwxr-xr-x"},   {S_IFLNK | 0777, "Lrwxrwxrwx"},
                {S_IFIFO | 0644, "prw-r--r--"}, {S_IFCHR | 0666, "Dcrw-rw-rw-"}, {S_IFBLK | 0660, "Drw-rw----"},
                {S_IFSOCK | 0755, "Srwxr-xr-x"}, {S_IFREG | 04755, "urwxr-xr-x"}, {S_IFDIR | 01777, "dtrwxrwxrwx"},
                {S_IFREG | 02755, "grwxr-xr-x"}, {S_IFREG | 0, "----------"},
        };
        char b[24];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_string_equal(fs_mode_string(cases[i].mode, b), cases[i].want);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_multipart_every_split),
                cmocka_unit_test(test_multipart_errors),
                cmocka_unit_test(test_multipart_boundary_param),
                cmocka_unit_test(test_multipart_fuzz),
                cmocka_unit_test(test_signature),
                cmocka_unit_test(test_paths),
                cmocka_unit_test(test_mode_strings),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
