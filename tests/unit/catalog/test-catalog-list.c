/* The paged, filtered listing (GET /v2/sandboxes): every filter, metadata
 * exactness, cursors, and pagination that stays exact under concurrent inserts. */
#include "helpers.h"

#include <pthread.h>

static uint32_t next_slot;

static void add(struct catalog *c, const char *id, const char *template_id, const char *alias,
                const char *state, int64_t started_at, const char *metadata)
{
        struct catalog_sandbox s = {
                .template_id = (char *)template_id,
                .alias = (char *)alias,
                .state = (char *)state,
                .metadata_json = (char *)metadata,
                .started_at = started_at,
                .end_at = started_at + 1000,
                .allow_internet_access = -1,
        };
        struct nb_error err = {0};
        uint32_t slot;

        snprintf(s.id, sizeof(s.id), "%s", id);
        OK(catalog_sandbox_insert_with_slot(c, &s, &slot, &err));
        next_slot++;
}

/* Lists one page and returns the ids joined by ',' (caller frees). */
static char *page_ids(struct catalog *c, const struct catalog_sandbox_filter *f, char **ret_next)
{
        struct catalog_sandbox **v = NULL;
        struct nb_error err = {0};
        char *out = calloc(1, 4096);
        size_t n = 0;

        assert_non_null(out);
        OK(catalog_sandbox_list(c, f, &v, &n, ret_next, &err));
        for (size_t i = 0; i < n; i++) {
                if (i)
                        strcat(out, ",");
                strcat(out, v[i]->id);
        }
        catalog_sandbox_array_free(v, n);
        return out;
}

static void expect_ids(struct catalog *c, const struct catalog_sandbox_filter *f, const char *want)
{
        char *next = NULL, *got = page_ids(c, f, &next);

        assert_string_equal(got, want);
        assert_null(next);
        free(got);
}

static void seed(struct catalog *c)
{
        struct catalog_template t = {
                .id = (char *)"tplid",
                .name = (char *)"code",
                .aliases = (char *[]){(char *)"code-interpreter-v1"},
                .n_aliases = 1,
                .layers_json = (char *)"[\"/t/code/rootfs\"]",
                .default_user = (char *)"user",
                .default_workdir = (char *)"/home/user",
                .cpu_count = 1,
                .memory_mb = 256,
                .envd_version = (char *)"0.6.4",
        };
        struct nb_error err = {0};

        OK(catalog_template_upsert(c, &t, &err));
        add(c, "a", "base", "base", "running", 100, "{\"user\":\"a b\",\"team\":\"x\"}");
        add(c, "b", "base", "base", "paused", 200, "{\"user\":\"a b\"}");
        add(c, "c", "tplid", "code-interpreter-v1", "running", 300, "{\"user\":\"a bc\"}");
        add(c, "d", "tplid", "code", "running", 400, "{\"user\":\"A B\",\"team\":\"x\"}");
        add(c, "e", "base", NULL, "paused", 500, "{\"k.dot\":\"v\",\"k\\\"q\":\"w\",\"n\":\"1\"}");
        add(c, "f", "base", NULL, "running", 500, "{}"); /* same start as e: id breaks the tie */
}

static void test_states_order_limit(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox_filter filter = {0};

        seed(f->c);
        expect_ids(f->c, &filter, "f,e,d,c,b,a");
        filter.ascending = true;
        expect_ids(f->c, &filter, "a,b,c,d,e,f");
        filter.ascending = false;
        filter.states = CATALOG_STATE_RUNNING;
        expect_ids(f->c, &filter, "f,d,c,a");
        filter.states = CATALOG_STATE_PAUSED;
        expect_ids(f->c, &filter, "e,b");
        filter.states = CATALOG_STATE_RUNNING | CATALOG_STATE_PAUSED;
        expect_ids(f->c, &filter, "f,e,d,c,b,a");
        filter.states = 0;
        filter.started_after = 300;
        expect_ids(f->c, &filter, "f,e,d");
        filter.started_after = 0;
        filter.limit = 100;
        expect_ids(f->c, &filter, "f,e,d,c,b,a");
}

static void test_template_filter(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox_filter filter = {0};

        seed(f->c);
        /* By id, by name and by alias: the same two sandboxes, whatever alias they were created with. */
        filter.template_id = "tplid";
        expect_ids(f->c, &filter, "d,c");
        filter.template_id = "code";
        expect_ids(f->c, &filter, "d,c");
        filter.template_id = "code-interpreter-v1";
        expect_ids(f->c, &filter, "d,c");
        filter.template_id = "base";
        expect_ids(f->c, &filter, "f,e,b,a");
        filter.template_id = "unknown";
        expect_ids(f->c, &filter, "");
        filter.template_id = "base";
        filter.states = CATALOG_STATE_RUNNING;
        expect_ids(f->c, &filter, "f,a");
}

static void test_metadata_exact(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox_filter filter = {0};

        seed(f->c);
        filter.metadata_kv = (const char *const[]){"user", "a b"};
        filter.n_metadata = 1;
        expect_ids(f->c, &filter, "b,a"); /* not "a bc", not "A B" */
        filter.metadata_kv = (const char *const[]){"user", "a b", "team", "x"};
        filter.n_metadata = 2;
        expect_ids(f->c, &filter, "a"); /* every pair must match */
        filter.metadata_kv = (const char *const[]){"user", "a"};
        filter.n_metadata = 1;
        expect_ids(f->c, &filter, ""); /* no prefix match */
        filter.metadata_kv = (const char *const[]){"User", "a b"};
        expect_ids(f->c, &filter, ""); /* keys are case-sensitive */
        filter.metadata_kv = (const char *const[]){"k.dot", "v"};
        expect_ids(f->c, &filter, "e"); /* '.' is not a JSON path separator here */
        filter.metadata_kv = (const char *const[]){"k", "v"};
        expect_ids(f->c, &filter, "");
        filter.metadata_kv = (const char *const[]){"k\"q", "w"};
        expect_ids(f->c, &filter, "e");
        filter.metadata_kv = (const char *const[]){"n", "1"};
        expect_ids(f->c, &filter, "e");
        filter.metadata_kv = (const char *const[]){"$.user", "a b"};
        expect_ids(f->c, &filter, "");
        filter.metadata_kv = (const char *const[]){"user", "a b' OR 1=1 --"};
        expect_ids(f->c, &filter, "");
        filter.metadata_kv = (const char *const[]){"user", "a b"};
        filter.states = CATALOG_STATE_PAUSED;
        expect_ids(f->c, &filter, "b");
}

static void test_bad_arguments(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox_filter filter = {0};
        struct catalog_sandbox **v = NULL;
        struct nb_error err = {0};
        const char *bad_cursors[] = {
                "!!!!",
                "MTIzX19h=garbage",
                "bm90IGEgY3Vyc29y",                 /* "not a cursor" */
                "MTIzX19BQkM",                      /* "123__ABC": bad id */
                "LTFfX2E",                          /* "-1__a" */
                "X19h",                             /* "__a" */
                "MTIzX18",                          /* "123__" */
                "MTIzYWJjX19h",                     /* "123abc__a" */
                "OTk5OTk5OTk5OTk5OTk5OTk5OTk5X19h", /* overflow */
                "A",
        };
        size_t n;

        for (size_t i = 0; i < ELEMENTSOF(bad_cursors); i++) {
                filter.cursor = bad_cursors[i];
                if (catalog_sandbox_list(f->c, &filter, &v, &n, NULL, &err) != -EINVAL)
                        fail_msg("cursor '%s' was accepted", bad_cursors[i]);
        }
        filter.cursor = NULL;
        filter.limit = 101;
        assert_int_equal(catalog_sandbox_list(f->c, &filter, &v, &n, NULL, &err), -EINVAL);
        filter.limit = 0;
        filter.states = 4;
        assert_int_equal(catalog_sandbox_list(f->c, &filter, &v, &n, NULL, &err), -EINVAL);
        filter.states = 0;
        filter.metadata_kv = (const char *const[]){"k", NULL};
        filter.n_metadata = 1;
        assert_int_equal(catalog_sandbox_list(f->c, &filter, &v, &n, NULL, &err), -EINVAL);
        filter.n_metadata = CATALOG_LIST_METADATA_MAX + 1;
        assert_int_equal(catalog_sandbox_list(f->c, &filter, &v, &n, NULL, &err), -EINVAL);
}

/* ---- pagination --------------------------------------------------------------------------- */

#define PRE 250

static int walk_no; /* keeps ids of rows added by different walks apart */

struct inserter {
        struct catalog *c;
        volatile int stop;
        int inserted;
        int failures;
};

static void *inserter_main(void *p)
{
        struct inserter *in = p;

        while (!in->stop && in->inserted < 400) {
                struct catalog_sandbox s = {.template_id = (char *)"base",
                                            .state = (char *)"running",
                                            .allow_internet_access = -1};
                struct nb_error err = {0};
                uint32_t slot;

                snprintf(s.id, sizeof(s.id), "new%dn%d", walk_no, in->inserted);
                /* New rows land everywhere: before, inside and after the part already walked. */
                s.started_at = (in->inserted * 7919) % (PRE / 5 + 20);
                if (catalog_sandbox_insert_with_slot(in->c, &s, &slot, &err) < 0)
                        in->failures++;
                in->inserted++;
                usleep(200);
        }
        return NULL;
}

static void walk(struct catalog *c, bool ascending, size_t limit, bool with_thread)
{
        struct catalog_sandbox_filter filter = {.ascending = ascending, .limit = limit};
        int seen_pre[PRE] = {0};
        size_t total = 0, pages = 0, cap = 8192;
        char **seen_ids = calloc(cap, sizeof(char *));
        int64_t last_t = ascending ? INT64_MIN : INT64_MAX;
        char last_id[64] = "";
        char *cursor = NULL;
        struct inserter in = {.c = c};
        pthread_t th;

        assert_non_null(seen_ids);
        walk_no++;
        if (with_thread)
                assert_int_equal(pthread_create(&th, NULL, inserter_main, &in), 0);
        do {
                struct catalog_sandbox **v = NULL;
                struct nb_error err = {0};
                char *next = NULL;
                size_t n = 0;

                filter.cursor = cursor;
                OK(catalog_sandbox_list(c, &filter, &v, &n, &next, &err));
                pages++;
                if (next)
                        assert_int_equal(n, limit); /* only the last page may be short */
                for (size_t i = 0; i < n; i++) {
                        int cmp_t = v[i]->started_at < last_t ? -1 : v[i]->started_at > last_t;
                        int cmp = cmp_t ? cmp_t : strcmp(v[i]->id, last_id);

                        /* Strictly monotonic across page boundaries: no repeats possible. */
                        assert_true(ascending ? cmp > 0 : cmp < 0);
                        last_t = v[i]->started_at;
                        snprintf(last_id, sizeof(last_id), "%s", v[i]->id);
                        if (strncmp(v[i]->id, "pre", 3) == 0)
                                seen_pre[atoi(v[i]->id + 3)]++;
                        for (size_t j = 0; j < total; j++)
                                assert_string_not_equal(seen_ids[j], v[i]->id);
                        assert_true(total < cap);
                        seen_ids[total++] = strdup(v[i]->id);
                }
                catalog_sandbox_array_free(v, n);
                free(cursor);
                cursor = next;
                /* Between pages, others create sandboxes too. */
                if (!with_thread && cursor) {
                        for (int k = 0; k < 3; k++) {
                                char id[32];

                                snprintf(id, sizeof(id), "mid%dp%zuk%d", walk_no, pages, k);
                                add(c, id, "base", NULL, "running",
                                    (int64_t)(pages * 13 + (size_t)k * 41) % 60, "{}");
                        }
                }
        } while (cursor);
        if (with_thread) {
                in.stop = 1;
                pthread_join(th, NULL);
                assert_int_equal(in.failures, 0);
        }
        /* Every row that existed for the whole walk came exactly once. */
        for (int i = 0; i < PRE; i++)
                if (seen_pre[i] != 1)
                        fail_msg("pre%d seen %d times (asc=%d limit=%zu)", i, seen_pre[i], ascending, limit);
        assert_true(pages >= PRE / limit);
        for (size_t j = 0; j < total; j++)
                free(seen_ids[j]);
        free(seen_ids);
}

static void seed_pre(struct catalog *c)
{
        /* Many rows share a start time, so the id must break ties for paging to be exact. */
        for (int i = 0; i < PRE; i++) {
                char id[16];

                snprintf(id, sizeof(id), "pre%d", i);
                add(c, id, "base", NULL, i % 4 ? "running" : "paused", i / 5, "{}");
        }
}

static void test_pagination_between_pages(void **state)
{
        struct fixture *f = *state;

        seed_pre(f->c);
        walk(f->c, false, 37, false);
        walk(f->c, true, 37, false);
        walk(f->c, false, 100, false);
        walk(f->c, true, 3, false);
}

static void test_pagination_concurrent_thread(void **state)
{
        struct fixture *f = *state;

        seed_pre(f->c);
        walk(f->c, false, 10, true);
        walk(f->c, true, 7, true);
}

/* The metadata filter is in SQL, before LIMIT: pages are full while matches remain. */
static void test_pagination_with_metadata(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox_filter filter = {.limit = 10};
        char *cursor = NULL;
        size_t total = 0;

        for (int i = 0; i < PRE; i++) {
                char id[16];

                snprintf(id, sizeof(id), "m%d", i);
                add(f->c, id, "base", NULL, "running", i,
                    i % 3 == 0 ? "{\"pick\":\"yes\"}" : "{\"pick\":\"no\"}");
        }
        filter.metadata_kv = (const char *const[]){"pick", "yes"};
        filter.n_metadata = 1;
        do {
                struct catalog_sandbox **v = NULL;
                struct nb_error err = {0};
                char *next = NULL;
                size_t n = 0;

                filter.cursor = cursor;
                OK(catalog_sandbox_list(f->c, &filter, &v, &n, &next, &err));
                if (next)
                        assert_int_equal(n, 10);
                for (size_t i = 0; i < n; i++)
                        assert_int_equal(atoi(v[i]->id + 1) % 3, 0);
                total += n;
                catalog_sandbox_array_free(v, n);
                free(cursor);
                cursor = next;
        } while (cursor);
        assert_int_equal(total, (PRE + 2) / 3);
}

/* The last full page does not announce an empty one. */
static void test_exact_multiple(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox_filter filter = {.limit = 5};
        char *next = NULL, *ids;

        for (int i = 0; i < 10; i++) {
                char id[16];

                snprintf(id, sizeof(id), "x%d", i);
                add(f->c, id, "base", NULL, "running", i, "{}");
        }
        ids = page_ids(f->c, &filter, &next);
        assert_string_equal(ids, "x9,x8,x7,x6,x5");
        free(ids);
        assert_non_null(next);
        filter.cursor = next;
        ids = page_ids(f->c, &filter, &next);
        assert_string_equal(ids, "x4,x3,x2,x1,x0");
        assert_null(next);
        free(ids);
        free((char *)filter.cursor);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_states_order_limit, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_template_filter, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_metadata_exact, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_bad_arguments, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pagination_between_pages, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pagination_concurrent_thread, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pagination_with_metadata, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test_setup_teardown(test_exact_multiple, fixture_setup, fixture_teardown),
        };

        return cmocka_run_group_tests_name("catalog-list", tests, NULL, NULL);
}
