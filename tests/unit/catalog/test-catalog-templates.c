/* Templates: upsert, lookup by id / name / alias, conflicts, listing, deletion. */
#include "helpers.h"

static char *aliases_a[] = {(char *)"py", (char *)"python"};

static struct catalog_template tpl(const char *id, char **aliases, size_t n_aliases)
{
        return (struct catalog_template){
                .id = (char *)id,
                .name = (char *)id,
                .aliases = aliases,
                .n_aliases = n_aliases,
                .layers_json = (char *)"[\"/var/lib/nestbox/templates/x/rootfs\"]",
                .default_user = (char *)"user",
                .default_workdir = (char *)"/home/user",
                .cpu_count = 2,
                .memory_mb = 512,
                .disk_mb = 1024,
                .envd_version = (char *)"0.6.4",
        };
}

static void test_upsert_and_get(void **state)
{
        struct fixture *f = *state;
        struct catalog_template t = tpl("pybox", aliases_a, 2), *got = NULL;
        struct nb_error err = {0};
        const char *refs[] = {"pybox", "py", "python"};

        t.start_cmd = (char *)"jupyter server";
        t.no_new_privs = true;
        OK(catalog_template_upsert(f->c, &t, &err));
        for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
                OK(catalog_template_get(f->c, refs[i], &got, &err));
                assert_string_equal(got->id, "pybox");
                assert_string_equal(got->name, "pybox");
                assert_int_equal(got->n_aliases, 2);
                assert_string_equal(got->aliases[0], "py");
                assert_string_equal(got->aliases[1], "python");
                assert_string_equal(got->layers_json, t.layers_json);
                assert_string_equal(got->envs_json, "{}");
                assert_string_equal(got->default_user, "user");
                assert_string_equal(got->default_workdir, "/home/user");
                assert_string_equal(got->start_cmd, "jupyter server");
                assert_null(got->ready_cmd);
                assert_int_equal(got->cpu_count, 2);
                assert_int_equal(got->memory_mb, 512);
                assert_int_equal(got->disk_mb, 1024);
                assert_true(got->no_new_privs);
                assert_string_equal(got->envd_version, "0.6.4");
                assert_true(got->created_at > 0);
                assert_int_equal(got->created_at, got->updated_at);
                catalog_template_free(got);
                got = NULL;
        }
        assert_int_equal(catalog_template_get(f->c, "nope", &got, &err), -ENOENT);
        assert_non_null(strstr(err.message, "nope"));
        assert_int_equal(catalog_template_get(f->c, "", &got, &err), -EINVAL);
        assert_null(got);
}

static void test_update_semantics(void **state)
{
        struct fixture *f = *state;
        struct catalog_template t = tpl("pybox", aliases_a, 2), *got = NULL;
        char *new_aliases[] = {(char *)"python3"};
        struct nb_error err = {0};
        int64_t created, updated;

        t.created_at = 1000;
        OK(catalog_template_upsert(f->c, &t, &err));
        OK(catalog_template_get(f->c, "pybox", &got, &err));
        assert_int_equal(got->created_at, 1000);
        updated = got->updated_at;
        catalog_template_free(got);

        /* The same template again (aliases in another order): nothing is written. */
        usleep(5000);
        {
                char *swapped[] = {(char *)"python", (char *)"py"};

                t.aliases = swapped;
                OK(catalog_template_upsert(f->c, &t, &err));
                t.aliases = aliases_a;
        }
        OK(catalog_template_get(f->c, "pybox", &got, &err));
        assert_int_equal(got->updated_at, updated);
        catalog_template_free(got);

        /* A change bumps updated_at, keeps created_at, and replaces the aliases. */
        t.memory_mb = 2048;
        t.aliases = new_aliases;
        t.n_aliases = 1;
        t.created_at = 0;
        t.envs_json = (char *)"{\"LANG\":\"C.UTF-8\"}";
        OK(catalog_template_upsert(f->c, &t, &err));
        OK(catalog_template_get(f->c, "python3", &got, &err));
        created = got->created_at;
        assert_int_equal(created, 1000);
        assert_true(got->updated_at > updated);
        assert_int_equal(got->memory_mb, 2048);
        assert_string_equal(got->envs_json, "{\"LANG\":\"C.UTF-8\"}");
        assert_int_equal(got->n_aliases, 1);
        catalog_template_free(got);
        got = NULL;
        assert_int_equal(catalog_template_get(f->c, "py", &got, &err), -ENOENT);
}

static void test_conflicts_and_validation(void **state)
{
        struct fixture *f = *state;
        struct catalog_template a = tpl("alpha", aliases_a, 2), b;
        char *steal[] = {(char *)"py"}, *name_alias[] = {(char *)"alpha"};
        struct nb_error err = {0};

        OK(catalog_template_upsert(f->c, &a, &err));

        b = tpl("beta", steal, 1);
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EEXIST);
        assert_non_null(strstr(err.message, "py"));
        b = tpl("beta", name_alias, 1);
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EEXIST);
        b = tpl("beta", NULL, 0);
        b.name = (char *)"alpha";
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EEXIST);
        b = tpl("beta", NULL, 0);
        b.name = (char *)"python"; /* an alias of alpha */
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EEXIST);

        b = tpl("beta", NULL, 0);
        b.layers_json = (char *)"[]";
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EINVAL);
        b.layers_json = (char *)"[\"relative/rootfs\"]";
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EINVAL);
        b.layers_json = (char *)"{\"a\":1}";
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EINVAL);
        b = tpl("beta", NULL, 0);
        b.envs_json = (char *)"{\"A\":1}";
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EINVAL);
        b = tpl("beta", NULL, 0);
        b.default_workdir = (char *)"home";
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EINVAL);
        b = tpl("beta", steal, 1);
        b.aliases = (char *[]){(char *)"x", (char *)"x"};
        b.n_aliases = 2;
        assert_int_equal(catalog_template_upsert(f->c, &b, &err), -EINVAL);

        /* Nothing of beta was written by the failures. */
        {
                struct catalog_template *got = NULL;

                assert_int_equal(catalog_template_get(f->c, "beta", &got, &err), -ENOENT);
        }
}

static void test_list_and_delete(void **state)
{
        struct fixture *f = *state;
        struct catalog_template a = tpl("zeta", aliases_a, 2), b = tpl("alpha", NULL, 0);
        struct catalog_template **list = NULL, *got = NULL;
        struct catalog_sandbox s = {
                .id = "usesit", .template_id = (char *)"zeta", .state = (char *)"running"};
        struct nb_error err = {0};
        size_t n = 0;

        OK(catalog_template_upsert(f->c, &a, &err));
        OK(catalog_template_upsert(f->c, &b, &err));
        OK(catalog_template_list(f->c, &list, &n, &err));
        assert_int_equal(n, 2);
        assert_string_equal(list[0]->name, "alpha");
        assert_string_equal(list[1]->name, "zeta");
        assert_int_equal(list[1]->n_aliases, 2);
        catalog_template_array_free(list, n);

        s.allow_internet_access = -1;
        OK(catalog_sandbox_insert(f->c, &s, &err));
        assert_int_equal(catalog_template_delete(f->c, "py", &err), -EBUSY);
        OK(catalog_sandbox_delete(f->c, "usesit", &err));
        OK(catalog_template_delete(f->c, "py", &err));
        assert_int_equal(catalog_template_get(f->c, "zeta", &got, &err), -ENOENT);
        assert_int_equal(catalog_template_get(f->c, "python", &got, &err), -ENOENT);
        assert_int_equal(catalog_template_delete(f->c, "zeta", &err), -ENOENT);
        /* The alias is free again. */
        b.aliases = aliases_a;
        b.n_aliases = 2;
        OK(catalog_template_upsert(f->c, &b, &err));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_upsert_and_get, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_update_semantics, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_conflicts_and_validation, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test_setup_teardown(test_list_and_delete, fixture_setup, fixture_teardown),
        };

        return cmocka_run_group_tests_name("catalog-templates", tests, NULL, NULL);
}
