/* template_store_scan(): good templates registered with absolute layers, broken
 * ones skipped (and never half-registered), nothing read outside the store. */
#include "helpers.h"

#include <limits.h>

#include "config.h"
#include "log.h"
#include "store.h"

static void write_file(const char *dir, const char *rel, const char *content)
{
        char path[PATH_MAX];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        fp = fopen(path, "we");
        assert_non_null(fp);
        fputs(content, fp);
        fclose(fp);
}

static void make_dir(const char *dir, const char *rel)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        assert_int_equal(mkdir(path, 0755), 0);
}

static void make_template(const char *root, const char *name, const char *json, bool rootfs)
{
        char rel[256];

        make_dir(root, name);
        if (json) {
                snprintf(rel, sizeof(rel), "%s/template.json", name);
                write_file(root, rel, json);
        }
        if (rootfs) {
                snprintf(rel, sizeof(rel), "%s/rootfs", name);
                make_dir(root, rel);
        }
}

/* Builds a store with 4 good templates and many broken ones; returns its path. */
static void build_store(const char *root)
{
        char rel[256];

        assert_int_equal(mkdir(root, 0755), 0);
        make_template(
                root, "base",
                "{\"name\":\"base\",\"aliases\":[\"base\",\"debian\"],\"layers\":[\"rootfs\"],"
                "\"defaultUser\":\"user\",\"defaultWorkdir\":\"/home/user\",\"envs\":{\"LANG\":\"C.UTF-8\"},"
                "\"cpuCount\":2,\"memoryMB\":512,\"diskSizeMB\":1024,\"noNewPrivs\":false,"
                "\"envdVersion\":\"0.6.4\",\"futureKey\":{\"ignored\":true}}",
                true);
        make_template(root, "code-interpreter-v1",
                      "{\"layers\":[\"rootfs\",\"./../base//rootfs/\"],\"startCmd\":\"jupyter\","
                      "\"readyCmd\":\"curl -s localhost:49999/health\",\"memoryMB\":1024}",
                      true);
        make_template(root, "mini", "{\"layers\":[\"rootfs\"]}", true);

        make_template(root, "Bad_Name", "{\"layers\":[\"rootfs\"]}", true);
        make_template(root, "nojson", NULL, true);
        make_template(root, "badjson", "{\"layers\":[\"rootfs\"", true);
        make_template(root, "notobject", "[1,2]", true);
        make_template(root, "nolayers", "{\"name\":\"nolayers\"}", true);
        make_template(root, "emptylayers", "{\"layers\":[]}", true);
        make_template(root, "escape", "{\"layers\":[\"../../../etc\"]}", true);
        make_template(root, "escape2", "{\"layers\":[\"rootfs/../../..\"]}", true);
        make_template(root, "absolute", "{\"layers\":[\"/etc\"]}", true);
        make_template(root, "missinglayer", "{\"layers\":[\"nope\"]}", true);
        make_template(root, "filelayer", "{\"layers\":[\"template.json\"]}", true);
        make_template(root, "namemismatch", "{\"name\":\"other\",\"layers\":[\"rootfs\"]}", true);
        /* Claims base's alias (nobody gets it) and base's name (base keeps it): order-independent. */
        make_template(root, "aliastaken",
                      "{\"aliases\":[\"debian\",\"base\",\"own\"],\"layers\":[\"rootfs\"]}", true);
        make_template(root, "badalias", "{\"aliases\":[\"UP\"],\"layers\":[\"rootfs\"]}", true);
        make_template(root, "wrongtype", "{\"cpuCount\":\"2\",\"layers\":[\"rootfs\"]}", true);
        make_template(root, "zerocpu", "{\"cpuCount\":0,\"layers\":[\"rootfs\"]}", true);
        make_template(root, "badenvs", "{\"envs\":{\"A\":1},\"layers\":[\"rootfs\"]}", true);
        make_template(root, "badenvname", "{\"envs\":{\"A=B\":\"1\"},\"layers\":[\"rootfs\"]}", true);
        make_template(root, "badworkdir", "{\"defaultWorkdir\":\"home\",\"layers\":[\"rootfs\"]}", true);
        make_template(root, "baduser", "{\"defaultUser\":\"x;rm\",\"layers\":[\"rootfs\"]}", true);
        make_template(root, "badversion", "{\"envdVersion\":\"latest\",\"layers\":[\"rootfs\"]}", true);
        make_template(root, "dupkeys", "{\"layers\":[\"rootfs\"],\"layers\":[\"rootfs\"]}", true);
        /* A layer name overlayfs would split, and symlinks that would lead out of the store. */
        make_template(root, "colon", "{\"layers\":[\"a:b\"]}", false);
        make_dir(root, "colon/a:b");
        make_template(root, "symlayer", "{\"layers\":[\"rootfs\"]}", false);
        snprintf(rel, sizeof(rel), "%s/symlayer/rootfs", root);
        assert_int_equal(symlink("/", rel), 0);
        make_template(root, "symjson", NULL, true);
        snprintf(rel, sizeof(rel), "%s/symjson/template.json", root);
        assert_int_equal(symlink("../base/template.json", rel), 0);
        snprintf(rel, sizeof(rel), "%s/symdir", root);
        assert_int_equal(symlink("base", rel), 0);
        make_template(root, "jsondir", NULL, true);
        make_dir(root, "jsondir/template.json");
        /* Skipped silently: dot entries (builds in progress); skipped with a warning: files. */
        make_template(root, ".build-base.1234", "{\"layers\":[\"rootfs\"]}", true);
        write_file(root, "README", "not a template");
}

static void test_scan(void **state)
{
        struct fixture *f = *state;
        struct catalog_template *t = NULL, **list = NULL;
        struct nb_error err = {0};
        char root[256], real[PATH_MAX], want[PATH_MAX * 2 + 128];
        size_t n = 0;
        int r;

        snprintf(root, sizeof(root), "%s/templates", f->dir);
        build_store(root);
        assert_non_null(realpath(root, real));

        r = template_store_scan(f->c, root, &err);
        assert_int_equal(r, 4);
        OK(catalog_template_list(f->c, &list, &n, &err));
        assert_int_equal(n, 4);
        assert_string_equal(list[0]->id, "aliastaken");
        assert_string_equal(list[1]->id, "base");
        assert_string_equal(list[2]->id, "code-interpreter-v1");
        assert_string_equal(list[3]->id, "mini");
        /* The contested aliases: "base" stays with base, "debian" goes to nobody. */
        assert_int_equal(list[0]->n_aliases, 1);
        assert_string_equal(list[0]->aliases[0], "own");
        catalog_template_array_free(list, n);
        assert_int_equal(catalog_template_get(f->c, "debian", &t, &err), -ENOENT);

        OK(catalog_template_get(f->c, "base", &t, &err));
        assert_string_equal(t->id, "base");
        assert_string_equal(t->name, "base");
        assert_int_equal(t->n_aliases, 1);
        assert_string_equal(t->aliases[0], "base");
        snprintf(want, sizeof(want), "[\"%s/base/rootfs\"]", real);
        assert_string_equal(t->layers_json, want);
        assert_string_equal(t->default_user, "user");
        assert_string_equal(t->default_workdir, "/home/user");
        assert_string_equal(t->envs_json, "{\"LANG\":\"C.UTF-8\"}");
        assert_int_equal(t->cpu_count, 2);
        assert_int_equal(t->memory_mb, 512);
        assert_int_equal(t->disk_mb, 1024);
        assert_false(t->no_new_privs);
        assert_string_equal(t->envd_version, "0.6.4");
        catalog_template_free(t);

        OK(catalog_template_get(f->c, "code-interpreter-v1", &t, &err));
        snprintf(want, sizeof(want), "[\"%s/code-interpreter-v1/rootfs\",\"%s/base/rootfs\"]", real, real);
        assert_string_equal(t->layers_json, want);
        assert_string_equal(t->start_cmd, "jupyter");
        assert_string_equal(t->ready_cmd, "curl -s localhost:49999/health");
        assert_int_equal(t->memory_mb, 1024);
        catalog_template_free(t);

        /* Defaults of a minimal template.json. */
        OK(catalog_template_get(f->c, "mini", &t, &err));
        assert_int_equal(t->n_aliases, 0);
        assert_string_equal(t->default_user, "root");
        assert_string_equal(t->default_workdir, "/");
        assert_string_equal(t->envs_json, "{}");
        assert_true(t->no_new_privs);
        assert_int_equal(t->cpu_count, 2);
        assert_string_equal(t->envd_version, NESTBOX_ENVD_VERSION);
        assert_null(t->start_cmd);
        catalog_template_free(t);
}

static void test_rescan_is_stable(void **state)
{
        struct fixture *f = *state;
        struct catalog_template *before = NULL, *after = NULL;
        struct nb_error err = {0};
        char root[256];

        snprintf(root, sizeof(root), "%s/templates", f->dir);
        build_store(root);
        assert_int_equal(template_store_scan(f->c, root, &err), 4);
        OK(catalog_template_get(f->c, "base", &before, &err));
        usleep(5000);
        assert_int_equal(template_store_scan(f->c, root, &err), 4);
        OK(catalog_template_get(f->c, "base", &after, &err));
        assert_int_equal(before->updated_at, after->updated_at);
        catalog_template_free(before);
        catalog_template_free(after);

        /* A changed template.json is picked up. */
        write_file(root, "mini/template.json", "{\"layers\":[\"rootfs\"],\"memoryMB\":128}");
        assert_int_equal(template_store_scan(f->c, root, &err), 4);
        OK(catalog_template_get(f->c, "mini", &after, &err));
        assert_int_equal(after->memory_mb, 128);
        catalog_template_free(after);
}

static void test_load_errors(void **state)
{
        struct fixture *f = *state;
        struct catalog_template *t = NULL;
        struct nb_error err = {0};
        char root[256];

        snprintf(root, sizeof(root), "%s/templates", f->dir);
        build_store(root);
        assert_int_equal(template_store_load(root, "escape", &t, &err), -EINVAL);
        assert_non_null(strstr(err.message, "layer"));
        assert_int_equal(template_store_load(root, "symlayer", &t, &err), -EINVAL);
        assert_int_equal(template_store_load(root, "nojson", &t, &err), -ENOENT);
        assert_non_null(strstr(err.message, "template.json"));
        assert_int_equal(template_store_load(root, "badjson", &t, &err), -EINVAL);
        assert_non_null(strstr(err.message, "badjson/template.json"));
        assert_int_equal(template_store_load(root, "../templates", &t, &err), -EINVAL);
        assert_int_equal(template_store_load(root, "symdir", &t, &err), -ELOOP);
        assert_null(t);
        OK(template_store_load(root, "mini", &t, &err));
        catalog_template_free(t);
}

static void test_missing_dir(void **state)
{
        struct fixture *f = *state;
        struct nb_error err = {0};
        char root[256];

        snprintf(root, sizeof(root), "%s/absent", f->dir);
        assert_int_equal(template_store_scan(f->c, root, &err), -ENOENT);
        assert_non_null(strstr(err.message, "absent"));
        /* A directory overlayfs could not take in lowerdir=. */
        snprintf(root, sizeof(root), "%s/a,b", f->dir);
        assert_int_equal(mkdir(root, 0755), 0);
        assert_int_equal(template_store_scan(f->c, root, &err), -EINVAL);
        /* Empty is fine. */
        snprintf(root, sizeof(root), "%s/empty", f->dir);
        assert_int_equal(mkdir(root, 0755), 0);
        assert_int_equal(template_store_scan(f->c, root, &err), 0);
}

static void test_names(void **state)
{
        (void)state;
        assert_true(template_name_valid("base"));
        assert_true(template_name_valid("code-interpreter-v1"));
        assert_true(template_name_valid("a.b_c-d"));
        assert_true(template_name_valid("0"));
        assert_false(template_name_valid(""));
        assert_false(template_name_valid(NULL));
        assert_false(template_name_valid(".hidden"));
        assert_false(template_name_valid("-x"));
        assert_false(template_name_valid("Base"));
        assert_false(template_name_valid("a/b"));
        assert_false(template_name_valid("a b"));
        assert_true(template_name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
        assert_false(
                template_name_valid("a2345678901234567890123456789012345678901234567890123456789012345"));
}

/* The templates scripts/prepare-templates.sh built, when NESTBOX_TEMPLATE_DIR names them. */
static void test_prepared_templates(void **state)
{
        struct fixture *f = *state;
        const char *dir = getenv("NESTBOX_TEMPLATE_DIR");
        const char *names[] = {"busybox", "base"};
        struct nb_error err = {0};

        if (!dir || access(dir, F_OK) < 0)
                skip();
        assert_true(template_store_scan(f->c, dir, &err) >= 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                struct catalog_template *t = NULL;
                char want[PATH_MAX + 64], real[PATH_MAX];

                if (catalog_template_get(f->c, names[i], &t, &err) < 0)
                        fail_msg(
                                "template '%s' not registered from %s (run scripts/prepare-templates.sh %s)",
                                names[i], dir, dir);
                assert_non_null(realpath(dir, real));
                snprintf(want, sizeof(want), "[\"%s/%s/rootfs\"]", real, names[i]);
                assert_string_equal(t->layers_json, want);
                assert_string_equal(t->default_user, "user");
                assert_string_equal(t->default_workdir, "/home/user");
                assert_int_equal(t->no_new_privs, strcmp(names[i], "busybox") == 0);
                catalog_template_free(t);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_scan, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_rescan_is_stable, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_load_errors, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_missing_dir, fixture_setup, fixture_teardown),
                cmocka_unit_test(test_names),
                cmocka_unit_test_setup_teardown(test_prepared_templates, fixture_setup, fixture_teardown),
        };

        log_set_level(getenv("TEST_VERBOSE")
                              ? LOG_LEVEL_DEBUG
                              : LOG_LEVEL_ERROR); /* the broken templates above warn on purpose */
        return cmocka_run_group_tests_name("template-store", tests, NULL, NULL);
}
