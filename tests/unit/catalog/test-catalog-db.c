/* Opening, pragmas, migrations and durability of the catalog file. */
#include "helpers.h"

#include "catalog-internal.h"

static void test_open_sets_wal_mode_and_0600(void **state)
{
        struct fixture *f = *state;
        sqlite3_stmt *st;
        struct stat sb;
        unsigned version = 0;
        struct nb_error err = {0};

        assert_int_equal(stat(f->db_path, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);

        assert_int_equal(sqlite3_prepare_v2(f->c->db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_prepare_v2(f->c->db, "PRAGMA foreign_keys", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 1);
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_prepare_v2(f->c->db, "PRAGMA synchronous", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 1); /* NORMAL */
        sqlite3_finalize(st);

        OK(catalog_schema_version_of(f->c->db, &version, &err));
        assert_int_equal(version, catalog_schema_version());
        assert_true(catalog_schema_version() >= 2);
        assert_int_equal(
                sqlite3_prepare_v2(f->c->db, "SELECT count(*) FROM schema_migrations", -1, &st, NULL),
                SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), catalog_schema_version());
        sqlite3_finalize(st);
}

static void test_open_bad_path(void **state)
{
        struct catalog *c = NULL;
        struct nb_error err = {0};

        (void)state;
        assert_int_equal(catalog_open("/nonexistent-dir/x/catalog.db", &c, &err), -ENOENT);
        assert_null(c);
        assert_non_null(strstr(err.message, "/nonexistent-dir/x/catalog.db"));
        assert_int_equal(catalog_open("", &c, &err), -EINVAL);
}

static void test_not_a_database(void **state)
{
        struct fixture *f = *state;
        struct catalog *c = NULL;
        struct nb_error err = {0};
        char path[160];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/garbage.db", f->dir);
        fp = fopen(path, "we");
        assert_non_null(fp);
        for (int i = 0; i < 512; i++)
                fputs("this is not sqlite ", fp);
        fclose(fp);
        assert_int_equal(catalog_open(path, &c, &err), -EBADMSG);
        assert_null(c);
}

/* A v1 database (as the first release wrote it) keeps its rows through the upgrade. */
static void test_upgrade_from_v1_keeps_data(void **state)
{
        struct fixture *f = *state;
        struct catalog_template *t = NULL;
        struct catalog_sandbox *s = NULL;
        struct nb_error err = {0};
        struct catalog *c = NULL;
        unsigned version = 0;
        char path[160];
        sqlite3 *db;
        size_t n = 0;

        snprintf(path, sizeof(path), "%s/old.db", f->dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        OK(catalog_migrate(db, 1, &err));
        OK(catalog_schema_version_of(db, &version, &err));
        assert_int_equal(version, 1);
        OK(catalog_exec(
                db,
                "INSERT INTO api_keys(id, name, prefix, hash, created_at) VALUES "
                "  ('0123456789abcdef', 'old', 'e2b_0000', '" /* hash of nothing real */
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 1000);"
                "INSERT INTO templates(id, name, layers_json, default_user, default_workdir, envs_json,"
                "  cpu_count, memory_mb, disk_mb, no_new_privs, envd_version, created_at, updated_at)"
                "  VALUES ('base', 'base', '[\"/t/base/rootfs\"]', 'user', '/home/user', '{\"A\":\"b\"}',"
                "  2, 512, 1024, 0, '0.6.4', 1000, 2000);"
                "INSERT INTO template_aliases(alias, template_id) VALUES ('base-alias', 'base');"
                "INSERT INTO sandboxes(id, template_id, alias, state, metadata_json, envs_json, started_at,"
                "  end_at, cpu_count, memory_mb, disk_mb, pid, pid_starttime, uid_slot, access_token,"
                "  auto_pause, allow_internet_access, secure) VALUES ('oldsandbox', 'base', 'base',"
                "  'paused', '{\"user\":\"a b\"}', '{}', 5000, 6000, 2, 512, 1024, 42, 77, 3, 'tok', 1, 0, "
                "1);",
                &err));
        sqlite3_close(db);

        OK(catalog_open(path, &c, &err));
        OK(catalog_schema_version_of(c->db, &version, &err));
        assert_int_equal(version, catalog_schema_version());

        OK(catalog_key_count(c, &n));
        assert_int_equal(n, 1);
        OK(catalog_template_get(c, "base-alias", &t, &err));
        assert_string_equal(t->id, "base");
        assert_string_equal(t->envs_json, "{\"A\":\"b\"}");
        assert_null(t->start_cmd);
        assert_int_equal(t->created_at, 1000);
        OK(catalog_sandbox_get(c, "oldsandbox", &s, &err));
        assert_string_equal(s->state, "paused");
        assert_string_equal(s->metadata_json, "{\"user\":\"a b\"}");
        assert_int_equal(s->pid, 42);
        assert_int_equal(s->pid_starttime, 77);
        assert_int_equal(s->uid_slot, 3);
        assert_string_equal(s->access_token, "tok");
        assert_true(s->auto_pause);
        assert_int_equal(s->allow_internet_access, 0);
        assert_true(s->secure);
        assert_null(s->lifecycle_json);
        assert_null(s->network_json);
        catalog_sandbox_free(s);
        catalog_template_free(t);

        /* The v2 columns work on the upgraded file. */
        OK(catalog_sandbox_set_network(c, "oldsandbox", "{\"allowOut\":[\"1.1.1.1\"]}", &err));
        catalog_close(c);
}

static void test_newer_schema_is_refused(void **state)
{
        struct fixture *f = *state;
        struct nb_error err = {0};
        struct catalog *c = NULL;

        OK(catalog_exec(f->c->db, "INSERT INTO schema_migrations(version, applied_at) VALUES (999, 0)",
                        &err));
        assert_int_equal(catalog_open(f->db_path, &c, &err), -EPROTONOSUPPORT);
        assert_null(c);
        assert_non_null(strstr(err.message, "999"));
}

static void test_reopen_keeps_data(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox s, *got = NULL;
        struct catalog_key *key = NULL;
        struct nb_error err = {0};
        char *secret = NULL;
        size_t n = 0;

        sandbox_fill(&s, "persist1", 1234);
        OK(catalog_sandbox_insert(f->c, &s, &err));
        OK(catalog_key_create(f->c, "k", &secret, &key, &err));
        f->c = catalog_close(f->c);
        assert_null(f->c);

        OK(catalog_open(f->db_path, &f->c, &err));
        OK(catalog_sandbox_get(f->c, "persist1", &got, &err));
        assert_int_equal(got->started_at, 1234);
        OK(catalog_key_count(f->c, &n));
        assert_int_equal(n, 1);
        assert_int_equal(catalog_key_verify(f->c, secret), 1);
        catalog_sandbox_free(got);
        catalog_key_free(key);
        free(secret);
}

/* Two connections on one file (two processes in real life): WAL lets both work. */
static void test_two_connections(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox s, *got = NULL;
        struct nb_error err = {0};
        struct catalog *other = NULL;
        uint32_t slot = 99;

        OK(catalog_open(f->db_path, &other, &err));
        sandbox_fill(&s, "shared1", 1);
        OK(catalog_sandbox_insert_with_slot(other, &s, &slot, &err));
        assert_int_equal(slot, 0);
        OK(catalog_sandbox_get(f->c, "shared1", &got, &err));
        catalog_sandbox_free(got);
        sandbox_fill(&s, "shared2", 2);
        OK(catalog_sandbox_insert_with_slot(f->c, &s, &slot, &err));
        assert_int_equal(slot, 1);
        catalog_close(other);
}

static void test_free_functions_accept_null(void **state)
{
        (void)state;
        catalog_sandbox_free(NULL);
        catalog_template_free(NULL);
        catalog_key_free(NULL);
        catalog_sandbox_array_free(NULL, 3);
        catalog_template_array_free(NULL, 3);
        catalog_key_array_free(NULL, 3);
        catalog_strv_free(NULL, 3);
        assert_null(catalog_close(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_sets_wal_mode_and_0600, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test(test_open_bad_path),
                cmocka_unit_test_setup_teardown(test_not_a_database, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_upgrade_from_v1_keeps_data, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test_setup_teardown(test_reopen_keeps_data, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_two_connections, fixture_setup, fixture_teardown),
                cmocka_unit_test(test_free_functions_accept_null),
        };

        return cmocka_run_group_tests_name("catalog-db", tests, NULL, NULL);
}
