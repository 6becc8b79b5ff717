/* Host-side unit tests of the agent's parsers and helpers: passwd/group,
 * Basic auth, path rules, /init bodies, Go exit strings, header parsing,
 * loop timers. Built with the project's sanitizers in the ASan build. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "exitstatus.h"
#include "launch.h"
#include "loop.h"
#include "settings.h"
#include "stream.h"
#include "users.h"

static char passwd_path[64], group_path[64];

static void write_file(char *path_template, const char *content)
{
        int fd = mkstemp(path_template);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        close(fd);
}

static int users_setup(void **state)
{
        snprintf(passwd_path, sizeof(passwd_path), "/tmp/agent-passwd.XXXXXX");
        snprintf(group_path, sizeof(group_path), "/tmp/agent-group.XXXXXX");
        write_file(passwd_path, "root:x:0:0:root:/root:/bin/bash\n"
                                "# a comment\n"
                                "broken line\n"
                                "user:x:1000:1000::/home/user:\n"
                                "nohome:x:1001:1001:::/bin/sh\n"
                                "badid:x:abc:1:::\n"
                                "big:x:4294967295:1:::\n");
        write_file(group_path, "root:x:0:\n"
                               "sudo:x:27:user,other\n"
                               "user:x:1000:\n"
                               "docker:x:999:other,user\n"
                               "weird:x:notanumber:user\n"
                               "dup:x:1000:user\n");
        return 0;
}

static int users_teardown(void **state)
{
        unlink(passwd_path);
        unlink(group_path);
        return 0;
}

static void test_user_lookup(void **state)
{
        struct nb_error err = {0};
        struct user u = {0};

        assert_int_equal(user_lookup(passwd_path, group_path, "user", &u, &err), 0);
        assert_string_equal(u.name, "user");
        assert_int_equal(u.uid, 1000);
        assert_int_equal(u.gid, 1000);
        assert_string_equal(u.home, "/home/user");
        assert_string_equal(u.shell, "/bin/sh"); /* empty shell field */
        assert_int_equal(u.n_groups, 3);        /* 1000 (primary, deduplicated), 27, 999 */
        assert_int_equal(u.groups[0], 1000);
        assert_int_equal(u.groups[1], 27);
        assert_int_equal(u.groups[2], 999);
        user_done(&u);

        assert_int_equal(user_lookup(passwd_path, group_path, "nohome", &u, &err), 0);
        assert_string_equal(u.home, "/");
        user_done(&u);

        assert_int_equal(user_lookup(passwd_path, group_path, "ghost", &u, &err), -ENOENT);
        assert_string_equal(err.message, "invalid username: 'ghost'");
        assert_int_equal(user_lookup(passwd_path, group_path, "", &u, &err), -ENOENT);
        assert_int_equal(user_lookup(passwd_path, group_path, "a:b", &u, &err), -ENOENT);
        assert_int_equal(user_lookup(passwd_path, group_path, "badid", &u, &err), -EINVAL);
        assert_int_equal(user_lookup(passwd_path, group_path, "big", &u, &err), -EINVAL);
        assert_int_equal(user_lookup("/nonexistent/passwd", group_path, "root", &u, &err), -ENOENT);
        /* No /etc/group: primary group only. */
        assert_int_equal(user_lookup(passwd_path, "/nonexistent/group", "user", &u, &err), 0);
        assert_int_equal(u.n_groups, 1);
        user_done(&u);

        assert_true(user_exists(passwd_path, "root"));
        assert_false(user_exists(passwd_path, "ghost"));
}

static void test_basic_auth(void **state)
{
        char *name = NULL;

        assert_int_equal(user_from_basic_auth("Basic cm9vdDo=", &name), 0);
        assert_string_equal(name, "root");
        free(name);
        assert_int_equal(user_from_basic_auth("basic dXNlcjpwYXNz", &name), 0); /* user:pass */
        assert_string_equal(name, "user");
        free(name);
        assert_int_equal(user_from_basic_auth("Basic cm9vdA==", &name), -EINVAL); /* no colon */
        assert_int_equal(user_from_basic_auth("Bearer cm9vdDo=", &name), -EINVAL);
        assert_int_equal(user_from_basic_auth("Basic !!!!", &name), -EINVAL);
        assert_int_equal(user_from_basic_auth("Basic AAA6", &name), -EINVAL); /* NUL inside */
        assert_int_equal(user_from_basic_auth("Basic ", &name), -EINVAL);
}

static void check_path(const char *in, const char *home, const char *workdir, const char *want)
{
        char *got = NULL;

        assert_int_equal(launch_resolve_path(in, home, workdir, &got), 0);
        assert_string_equal(got, want);
        free(got);
}

static void test_resolve_path(void **state)
{
        check_path(NULL, "/home/user", NULL, "/home/user");
        check_path("", "/home/user", "/work", "/work");
        check_path("~", "/home/user", "/work", "/home/user");
        check_path("~/x/y", "/home/user", NULL, "/home/user/x/y");
        check_path("rel/dir", "/home/user", "/work", "/home/user/rel/dir");
        check_path("rel", "/", NULL, "/rel");
        check_path("~/a", "/", NULL, "/a");
        check_path("/abs", "/home/user", "/work", "/abs");
        check_path("~user", "/home/user", NULL, "/home/user/~user");
}

static void test_init_body(void **state)
{
        struct agent a = {0};
        struct nb_error err = {0};
        const char *body;

        body = "{\"envVars\":{\"A\":\"1\",\"B\":\"2\"},\"accessToken\":\"t\",\"defaultUser\":\"user\","
               "\"defaultWorkdir\":\"/w\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"volumeMounts\":[]}";
        assert_int_equal(settings_apply_init(&a, body, strlen(body), &err), 0);
        assert_string_equal(json_string_value(json_object_get(a.env_vars, "A")), "1");
        assert_string_equal(a.access_token, "t");
        assert_string_equal(a.default_user, "user");
        assert_string_equal(a.default_workdir, "/w");

        /* A second /init merges env vars and keeps what it does not mention. */
        body = "{\"envVars\":{\"B\":\"3\",\"C\":\"4\"}}";
        assert_int_equal(settings_apply_init(&a, body, strlen(body), &err), 0);
        assert_int_equal(json_object_size(a.env_vars), 3);
        assert_string_equal(json_string_value(json_object_get(a.env_vars, "B")), "3");
        assert_string_equal(a.access_token, "t");

        /* Bad input changes nothing. */
        body = "{\"envVars\":{\"D\":5},\"accessToken\":\"other\"}";
        assert_int_equal(settings_apply_init(&a, body, strlen(body), &err), -EINVAL);
        assert_null(json_object_get(a.env_vars, "D"));
        assert_string_equal(a.access_token, "t");
        body = "{\"envVars\":{\"A=B\":\"x\"}}";
        assert_int_equal(settings_apply_init(&a, body, strlen(body), &err), -EINVAL);
        body = "{\"accessToken\":5}";
        assert_int_equal(settings_apply_init(&a, body, strlen(body), &err), -EINVAL);
        body = "[1]";
        assert_int_equal(settings_apply_init(&a, body, strlen(body), &err), -EINVAL);
        body = "{\"a\":";
        assert_int_equal(settings_apply_init(&a, body, strlen(body), &err), -EINVAL);
        body = "{\"a\":1,\"a\":2}";
        assert_int_equal(settings_apply_init(&a, body, strlen(body), &err), -EINVAL);
        assert_int_equal(settings_apply_init(&a, "", 0, &err), 0);

        /* Empty strings unset. */
        body = "{\"accessToken\":\"\",\"defaultUser\":null}";
        assert_int_equal(settings_apply_init(&a, body, strlen(body), &err), 0);
        assert_null(a.access_token);
        assert_string_equal(a.default_user, "user");
        settings_done(&a);
}

static void test_exit_status(void **state)
{
        char buf[64], scratch[24];

        exit_status_format(0, buf, sizeof(buf));
        assert_string_equal(buf, "exit status 0");
        exit_status_format(3 << 8, buf, sizeof(buf));
        assert_string_equal(buf, "exit status 3");
        assert_int_equal(exit_status_code(3 << 8), 3);
        assert_true(exit_status_exited(3 << 8));
        exit_status_format(SIGKILL, buf, sizeof(buf));
        assert_string_equal(buf, "signal: killed");
        assert_int_equal(exit_status_code(SIGKILL), -1);
        assert_false(exit_status_exited(SIGKILL));
        exit_status_format(SIGTERM, buf, sizeof(buf));
        assert_string_equal(buf, "signal: terminated");
        exit_status_format(SIGINT, buf, sizeof(buf));
        assert_string_equal(buf, "signal: interrupt");
        exit_status_format(SIGHUP, buf, sizeof(buf));
        assert_string_equal(buf, "signal: hangup");
        exit_status_format(SIGABRT | 0x80, buf, sizeof(buf));
        assert_string_equal(buf, "signal: aborted (core dumped)");
        exit_status_format(SIGSEGV, buf, sizeof(buf));
        assert_string_equal(buf, "signal: segmentation fault");
        assert_string_equal(exit_status_signal_name(40, scratch, sizeof(scratch)), "signal 40");
        exit_status_format(SIGKILL, buf, 5);
        assert_string_equal(buf, "sign");
}

static void test_keepalive_header(void **state)
{
        assert_int_equal(stream_keepalive_from_header(NULL), 90000000ull);
        assert_int_equal(stream_keepalive_from_header("50"), 50000000ull);
        assert_int_equal(stream_keepalive_from_header("1"), 1000000ull);
        assert_int_equal(stream_keepalive_from_header("0"), 90000000ull);
        assert_int_equal(stream_keepalive_from_header("-1"), 90000000ull);
        assert_int_equal(stream_keepalive_from_header("5s"), 90000000ull);
        assert_int_equal(stream_keepalive_from_header("99999999999999999999"), 90000000ull);
        assert_int_equal(stream_keepalive_from_header(""), 90000000ull);
}

static int fired;
static void on_timer(struct loop_timer *t)
{
        fired++;
        if (fired == 2)
                loop_quit(t->loop, 7);
}

static void test_loop_timers(void **state)
{
        struct loop *l = NULL;
        struct loop_timer a = {0}, b = {0}, c = {0};
        uint64_t now = loop_now();

        assert_int_equal(loop_new(&l), 0);
        loop_timer_arm(l, &a, now + 20000, on_timer, NULL);
        loop_timer_arm(l, &b, now + 10000, on_timer, NULL);
        loop_timer_arm(l, &c, now + 5000, on_timer, NULL);
        loop_timer_disarm(&c);
        loop_timer_disarm(&c); /* idempotent */
        assert_int_equal(loop_run(l), 7);
        assert_int_equal(fired, 2);
        assert_true(loop_now() - now >= 20000);
        loop_free(l);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_user_lookup, users_setup, users_teardown),
                cmocka_unit_test(test_basic_auth),
                cmocka_unit_test(test_resolve_path),
                cmocka_unit_test(test_init_body),
                cmocka_unit_test(test_exit_status),
                cmocka_unit_test(test_keepalive_header),
                cmocka_unit_test(test_loop_timers),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
