/* Failing-malloc run (jansson's test_chaos.c idea): fail the 1st, 2nd, ... allocation
 * of a decode + encode and require -ENOMEM (never a crash, a leak under ASan, or a
 * half-written buffer), until a run needs no failure. malloc & co. are wrapped at link
 * time (-Wl,--wrap), which reaches libwire and libbase but not libjansson.so: jansson
 * reports most of its own allocation failures as syntax errors, so they cannot map to
 * -ENOMEM and are left out here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connect.h"
#include "filesystem.pb-c.h"
#include "pbjson.h"
#include "process.pb-c.h"

static long countdown = -1; /* allocations left before one fails; -1 = never */
static bool injected;

static bool should_fail(void)
{
        if (countdown < 0)
                return false;
        if (countdown-- == 0) {
                injected = true;
                return true;
        }
        return false;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n)
{
        return should_fail() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
        return should_fail() ? NULL : __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
        return should_fail() ? NULL : __real_realloc(p, n);
}
char *__wrap_strdup(const char *s)
{
        return should_fail() ? NULL : __real_strdup(s);
}
char *__wrap_strndup(const char *s, size_t n)
{
        return should_fail() ? NULL : __real_strndup(s, n);
}

static void run_chaos(const ProtobufCMessageDescriptor *d, const char *json)
{
        bool done = false;

        for (long k = 0; !done; k++) {
                struct nb_error err = {0};
                ProtobufCMessage *m = NULL;
                struct buf out = {0};
                int r;

                assert_true(k < 100000);
                injected = false;
                countdown = k;
                r = pbjson_decode(d, json, strlen(json), &m, &err);
                if (r == 0) {
                        r = pbjson_encode(m, &out, &err);
                        if (r < 0)
                                assert_int_equal(out.len, 0);
                        if (r == 0)
                                r = connect_end_stream_append(&out, CONNECT_NOT_FOUND, "x");
                }
                countdown = -1;
                if (r < 0) {
                        if (r != -ENOMEM)
                                print_error("k=%ld: %s\n", k, err.message);
                        assert_true(injected);
                        assert_int_equal(r, -ENOMEM);
                } else if (!injected) {
                        print_message("%s: %ld allocation failures survived\n", d->name, k);
                        done = true;
                }
                if (m)
                        protobuf_c_message_free_unpacked(m, NULL);
                buf_done(&out);
        }
}

static void test_chaos(void **state)
{
        run_chaos(&process__start_request__descriptor,
                  "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",\"echo hello\"],"
                  "\"envs\":{\"A\":\"1\",\"B\":\"2\"},\"cwd\":\"/"
                  "tmp\"},\"pty\":{\"size\":{\"cols\":1}},\"stdin\":false}");
        run_chaos(&process__send_input_request__descriptor,
                  "{\"process\":{\"pid\":42},\"input\":{\"stdin\":\"YWJj\"}}");
        run_chaos(&filesystem__list_dir_response__descriptor,
                  "{\"entries\":[{\"name\":\"a\",\"size\":\"5\",\"modifiedTime\":\"2025-01-01T00:00:00Z\","
                  "\"metadata\":{\"k\":\"v\"}},{\"name\":\"b\",\"type\":\"FILE_TYPE_DIRECTORY\"}]}");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_chaos),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
