/* libnestbox connection settings and URLs (protocol.md §1.1, §1.2), the
 * request bodies it builds, and RFC 3339 times. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib.h"

/* A fake environment: NAME=VALUE strings. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
        size_t n = strlen(name);

        for (const char *const *e = fake_env; e && *e; e++)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

static int resolve(const char *const *env, const char *api_url, const char *key, const char *sandbox_url,
                   struct lib_config *cfg, nestbox_error *err)
{
        fake_env = env;
        return lib_config_resolve(api_url, key, sandbox_url, fake_getenv, cfg, err);
}

static void test_defaults_like_the_sdk(void **state)
{
        static const char *const env[] = {"E2B_API_KEY=e2b_x", NULL};
        struct lib_config cfg;
        nestbox_error err = {0};
        char *u;

        assert_int_equal(resolve(env, NULL, NULL, NULL, &cfg, &err), 0);
        assert_string_equal(cfg.api_url, "https://api.e2b.app");
        assert_string_equal(cfg.api_key, "e2b_x");
        assert_null(cfg.sandbox_url);
        assert_string_equal(cfg.domain, "e2b.app");
        /* E2B's own domains route by header on one host */
        u = lib_envd_url(&cfg, "abc123", NULL);
        assert_string_equal(u, "https://sandbox.e2b.app");
        free(u);
        u = lib_envd_url(&cfg, "abc123", "e2b.dev");
        assert_string_equal(u, "https://sandbox.e2b.dev");
        free(u);
        /* any other domain: the per-sandbox wildcard host */
        u = lib_envd_url(&cfg, "abc123", "example.org");
        assert_string_equal(u, "https://49983-abc123.example.org");
        free(u);
        lib_config_done(&cfg);
}

static void test_env_overrides(void **state)
{
        static const char *const env[] = {"E2B_API_KEY=k1", "E2B_DOMAIN=my.cloud",
                                          "E2B_SANDBOX_URL=http://127.0.0.1:3000/", NULL};
        static const char *const env_nosbx[] = {"E2B_API_KEY=k1", "E2B_DOMAIN=my.cloud", NULL};
        static const char *const env_debug[] = {"E2B_API_KEY=k1", "E2B_DEBUG=true", NULL};
        struct lib_config cfg;
        nestbox_error err = {0};
        char *u;

        assert_int_equal(resolve(env, NULL, NULL, NULL, &cfg, &err), 0);
        assert_string_equal(cfg.api_url, "https://api.my.cloud");
        assert_string_equal(cfg.sandbox_url, "http://127.0.0.1:3000"); /* trailing '/' dropped */
        u = lib_envd_url(&cfg, "abc", "ignored.domain");
        assert_string_equal(u, "http://127.0.0.1:3000");
        free(u);
        lib_config_done(&cfg);

        assert_int_equal(resolve(env_nosbx, NULL, NULL, NULL, &cfg, &err), 0);
        u = lib_envd_url(&cfg, "abc", "");
        assert_string_equal(u, "https://49983-abc.my.cloud");
        free(u);
        lib_config_done(&cfg);

        /* explicit arguments win over the environment */
        assert_int_equal(resolve(env, "http://h:1//", "k2", "https://s:2", &cfg, &err), 0);
        assert_string_equal(cfg.api_url, "http://h:1");
        assert_string_equal(cfg.api_key, "k2");
        assert_string_equal(cfg.sandbox_url, "https://s:2");
        lib_config_done(&cfg);

        assert_int_equal(resolve(env_debug, NULL, NULL, NULL, &cfg, &err), 0);
        assert_string_equal(cfg.api_url, "http://localhost:3000");
        u = lib_envd_url(&cfg, "abc", NULL);
        assert_string_equal(u, "http://localhost:49983");
        free(u);
        lib_config_done(&cfg);
}

static void test_config_errors(void **state)
{
        static const char *const nokey[] = {"E2B_API_URL=http://x", NULL};
        static const char *const emptykey[] = {"E2B_API_KEY=", NULL};
        static const char *const badurl[] = {"E2B_API_KEY=k", "E2B_API_URL=ftp://x", NULL};
        static const char *const badsbx[] = {"E2B_API_KEY=k", "E2B_SANDBOX_URL=127.0.0.1:3000", NULL};
        static const char *const baddomain[] = {"E2B_API_KEY=k", "E2B_DOMAIN=a/b", NULL};
        struct lib_config cfg;
        nestbox_error err = {0};

        assert_int_equal(resolve(nokey, NULL, NULL, NULL, &cfg, &err), -EACCES);
        assert_non_null(strstr(err.message, "API key is required"));
        assert_int_equal(resolve(emptykey, NULL, NULL, NULL, &cfg, &err), -EACCES);
        assert_int_equal(resolve(badurl, NULL, NULL, NULL, &cfg, &err), -EINVAL);
        assert_non_null(strstr(err.message, "ftp://x"));
        assert_int_equal(resolve(badsbx, NULL, NULL, NULL, &cfg, &err), -EINVAL);
        assert_int_equal(resolve(baddomain, NULL, NULL, NULL, &cfg, &err), -EINVAL);
}

static void test_url_encode_and_ids(void **state)
{
        struct buf b = {0};

        assert_int_equal(lib_url_encode(&b, "a b/c?d=e&f~*'()!-_.é"), 0);
        assert_int_equal(buf_append(&b, "", 1), 0);
        assert_string_equal((char *)b.data, "a%20b%2Fc%3Fd%3De%26f~*'()!-_.%C3%A9");
        buf_done(&b);

        assert_true(lib_id_is_valid("ivz2kqr3x0a1b2c3d4e5"));
        assert_true(lib_id_is_valid("a-b_c.d"));
        assert_false(lib_id_is_valid(""));
        assert_false(lib_id_is_valid(NULL));
        assert_false(lib_id_is_valid(".."));
        assert_false(lib_id_is_valid("a/b"));
        assert_false(lib_id_is_valid("a?b"));
        assert_false(lib_id_is_valid("a b"));
}

static void assert_json(json_t *j, const char *want)
{
        char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

        assert_non_null(text);
        assert_string_equal(text, want);
        free(text);
        json_decref(j);
}

static void test_create_body(void **state)
{
        nestbox_create_opts *o = NULL;

        /* like Sandbox.create(): templateID only, "base" by default */
        assert_json(lib_create_body(NULL), "{\"templateID\":\"base\"}");
        assert_int_equal(nestbox_create_opts_new(&o), 0);
        assert_json(lib_create_body(o), "{\"templateID\":\"base\"}");
        assert_int_equal(nestbox_create_opts_set_template(o, "busybox"), 0);
        assert_int_equal(nestbox_create_opts_set_timeout(o, 120), 0);
        assert_int_equal(nestbox_create_opts_set_metadata(o, "user", "a b"), 0);
        assert_int_equal(nestbox_create_opts_set_metadata(o, "user", "c"), 0); /* replaces */
        assert_int_equal(nestbox_create_opts_set_env(o, "FOO", "bar"), 0);
        assert_json(lib_create_body(o), "{\"envVars\":{\"FOO\":\"bar\"},\"metadata\":{\"user\":\"c\"},"
                                        "\"templateID\":\"busybox\",\"timeout\":120}");
        assert_int_equal(nestbox_create_opts_set_template(o, ""), -EINVAL);
        assert_int_equal(nestbox_create_opts_set_metadata(o, "", "x"), -EINVAL);
        assert_int_equal(nestbox_create_opts_set_env(o, "K", NULL), -EINVAL);
        assert_null(nestbox_create_opts_free(o));
        assert_null(nestbox_create_opts_free(NULL));
}

static void test_process_opts(void **state)
{
        static const char *const argv[] = {"/bin/sh", "-i", NULL};
        static const char *const empty[] = {NULL};
        nestbox_process_opts *o = NULL;

        assert_int_equal(nestbox_process_opts_new(&o), 0);
        assert_int_equal(o->timeout_ms, 60000); /* the SDK's default */
        assert_int_equal(nestbox_process_opts_set_user(o, "root"), 0);
        assert_int_equal(nestbox_process_opts_set_user(o, "a:b"), -EINVAL);
        assert_int_equal(nestbox_process_opts_set_user(o, ""), -EINVAL);
        assert_string_equal(o->user, "root");
        assert_int_equal(nestbox_process_opts_set_command(o, argv), 0);
        assert_string_equal(o->argv[0], "/bin/sh");
        assert_string_equal(o->argv[1], "-i");
        assert_null(o->argv[2]);
        assert_int_equal(nestbox_process_opts_set_command(o, empty), -EINVAL);
        assert_int_equal(nestbox_process_opts_set_command(o, NULL), 0);
        assert_null(o->argv);
        assert_null(nestbox_process_opts_free(o));
}

static void test_rfc3339(void **state)
{
        static const struct {
                const char *s;
                int64_t ms;
        } good[] = {
                {"1970-01-01T00:00:00Z", 0},
                {"2025-01-01T00:00:00Z", 1735689600000},
                {"2025-01-01T00:00:00.123Z", 1735689600123},
                {"2025-01-01T00:00:00.123456789Z", 1735689600123},
                {"2025-01-01T01:00:00+01:00", 1735689600000},
                {"2024-12-31T23:30:00-00:30", 1735689600000},
                {"2025-01-01t00:00:00.5z", 1735689600500},
        };
        static const char *const bad[] = {
                "",
                "2025-01-01",
                "2025-01-01T00:00:00",
                "2025-13-01T00:00:00Z",
                "2025-01-01T24:00:00Z",
                "2025-01-01T00:00:00.Z",
                "2025-01-01T00:00:00Zjunk",
                "2025-01-01T00:00:00+0100",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                int64_t ms = -1;

                assert_int_equal(lib_rfc3339_to_ms(good[i].s, &ms), 0);
                assert_int_equal(ms, good[i].ms);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int64_t ms = 42;

                assert_int_equal(lib_rfc3339_to_ms(bad[i], &ms), -EINVAL);
                assert_int_equal(ms, 42);
        }
}

static void test_info_accessors(void **state)
{
        static const char text[] =
                "{\"sandboxID\":\"abc\",\"templateID\":\"t1\",\"alias\":\"base\",\"state\":\"running\","
                "\"startedAt\":\"2025-01-01T00:00:00Z\",\"endAt\":\"2025-01-01T00:05:00.250Z\",\"cpuCount\":"
                "2,"
                "\"memoryMB\":512,\"envdVersion\":\"0.6.4\",\"metadata\":{\"z\":\"1\",\"a\":\"2\",\"n\":3}}";
        nestbox_sandbox_info *info = NULL;
        nestbox_error err = {0};
        json_t *j = json_loads(text, 0, NULL);

        assert_int_equal(lib_info_from_json(j, &info, &err), 0);
        json_decref(j);
        assert_string_equal(nestbox_sandbox_info_id(info), "abc");
        assert_string_equal(nestbox_sandbox_info_template_id(info), "t1");
        assert_string_equal(nestbox_sandbox_info_alias(info), "base");
        assert_string_equal(nestbox_sandbox_info_state(info), "running");
        assert_int_equal(nestbox_sandbox_info_end_at_ms(info), 1735689900250);
        assert_int_equal(nestbox_sandbox_info_cpu_count(info), 2);
        assert_int_equal(nestbox_sandbox_info_memory_mb(info), 512);
        assert_int_equal(nestbox_sandbox_info_disk_size_mb(info), -1);
        /* string values only, sorted by key */
        assert_int_equal(nestbox_sandbox_info_metadata_count(info), 2);
        assert_string_equal(nestbox_sandbox_info_metadata_key(info, 0), "a");
        assert_string_equal(nestbox_sandbox_info_metadata_value(info, 0), "2");
        assert_string_equal(nestbox_sandbox_info_metadata_key(info, 1), "z");
        assert_null(nestbox_sandbox_info_metadata_key(info, 2));
        assert_non_null(strstr(nestbox_sandbox_info_json(info), "\"sandboxID\":\"abc\""));
        assert_null(nestbox_sandbox_info_free(info));

        j = json_loads("{\"templateID\":\"t\"}", 0, NULL);
        assert_int_equal(lib_info_from_json(j, &info, &err), -EPROTO);
        json_decref(j);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_like_the_sdk),
                cmocka_unit_test(test_env_overrides),
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_url_encode_and_ids),
                cmocka_unit_test(test_create_body),
                cmocka_unit_test(test_process_opts),
                cmocka_unit_test(test_rfc3339),
                cmocka_unit_test(test_info_accessors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
