/* Sandbox rows: round trip of every field, setters, deletion, uid slots,
 * expiry, and many threads using one catalog at once. */
#include "helpers.h"

#include <pthread.h>

static void test_round_trip(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox s, *got = NULL;
        struct nb_error err = {0};

        sandbox_fill(&s, "abc123", 1700000000000);
        s.alias = (char *)"base";
        s.metadata_json = (char *)"{\"user\":\"a b\",\"k.1\":\"\\\"q\\\"\"}";
        s.envs_json = (char *)"{\"FOO\":\"bar\"}";
        s.pid = 4242;
        s.pid_starttime = UINT64_MAX - 5; /* survives the trip through a signed column */
        s.uid_slot = 7;
        s.access_token = (char *)"deadbeef";
        s.auto_pause = true;
        s.allow_internet_access = 0;
        s.secure = true;
        s.lifecycle_json = (char *)"{\"onTimeout\":\"pause\",\"autoResume\":false}";
        s.network_json = (char *)"{\"allowOut\":[\"10.0.0.0/8\"]}";
        OK(catalog_sandbox_insert(f->c, &s, &err));

        OK(catalog_sandbox_get(f->c, "abc123", &got, &err));
        assert_string_equal(got->id, "abc123");
        assert_string_equal(got->template_id, "base");
        assert_string_equal(got->alias, "base");
        assert_string_equal(got->state, "running");
        assert_string_equal(got->metadata_json, s.metadata_json);
        assert_string_equal(got->envs_json, s.envs_json);
        assert_int_equal(got->started_at, 1700000000000);
        assert_int_equal(got->end_at, 1700000300000);
        assert_int_equal(got->cpu_count, 2);
        assert_int_equal(got->memory_mb, 512);
        assert_int_equal(got->disk_mb, 1024);
        assert_int_equal(got->pid, 4242);
        assert_true(got->pid_starttime == UINT64_MAX - 5);
        assert_int_equal(got->uid_slot, 7);
        assert_string_equal(got->access_token, "deadbeef");
        assert_true(got->auto_pause);
        assert_int_equal(got->allow_internet_access, 0);
        assert_true(got->secure);
        assert_string_equal(got->lifecycle_json, s.lifecycle_json);
        assert_string_equal(got->network_json, s.network_json);
        catalog_sandbox_free(got);

        /* Defaults: NULL JSON maps become "{}", unset internet access stays -1, no token. */
        sandbox_fill(&s, "plain", 1);
        s.uid_slot = 8;
        s.allow_internet_access = 1;
        OK(catalog_sandbox_insert(f->c, &s, &err));
        OK(catalog_sandbox_get(f->c, "plain", &got, &err));
        assert_string_equal(got->metadata_json, "{}");
        assert_string_equal(got->envs_json, "{}");
        assert_null(got->alias);
        assert_null(got->access_token);
        assert_null(got->lifecycle_json);
        assert_null(got->network_json);
        assert_int_equal(got->allow_internet_access, 1);
        assert_false(got->secure);
        catalog_sandbox_free(got);
        sandbox_fill(&s, "unset", 2);
        s.uid_slot = 9;
        OK(catalog_sandbox_insert(f->c, &s, &err));
        OK(catalog_sandbox_get(f->c, "unset", &got, &err));
        assert_int_equal(got->allow_internet_access, -1);
        catalog_sandbox_free(got);
}

static void test_insert_rejects(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox s, *got = NULL;
        struct nb_error err = {0};

        sandbox_fill(&s, "dup", 1);
        OK(catalog_sandbox_insert(f->c, &s, &err));
        s.uid_slot = 1;
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EEXIST); /* same id */
        sandbox_fill(&s, "other", 1);
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EEXIST); /* same slot 0 */
        assert_non_null(strstr(err.message, "slot"));

        sandbox_fill(&s, "UPPER", 1);
        s.uid_slot = 5;
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EINVAL);
        sandbox_fill(&s, "", 1);
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EINVAL);
        sandbox_fill(&s, "with-dash", 1);
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EINVAL);
        sandbox_fill(&s, "ok", 1);
        s.uid_slot = 5;
        s.state = (char *)"killed";
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EINVAL);
        sandbox_fill(&s, "ok", 1);
        s.uid_slot = 5;
        s.metadata_json = (char *)"{\"n\":1}";
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EINVAL);
        s.metadata_json = (char *)"[]";
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EINVAL);
        s.metadata_json = NULL;
        s.network_json = (char *)"{not json";
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EINVAL);
        s.network_json = NULL;
        s.template_id = NULL;
        assert_int_equal(catalog_sandbox_insert(f->c, &s, &err), -EINVAL);
        assert_int_equal(catalog_sandbox_get(f->c, "ok", &got, &err), -ENOENT);
        assert_int_equal(catalog_sandbox_get(f->c, "NOT/valid", &got, &err), -ENOENT);
        assert_null(got);
}

static void test_setters_and_delete(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox s, *got = NULL;
        struct nb_error err = {0};

        sandbox_fill(&s, "sb1", 100);
        OK(catalog_sandbox_insert(f->c, &s, &err));
        OK(catalog_sandbox_set_state(f->c, "sb1", "paused", &err));
        OK(catalog_sandbox_set_end_at(f->c, "sb1", 999999, &err));
        OK(catalog_sandbox_set_process(f->c, "sb1", 31337, 1234567890123ULL, &err));
        OK(catalog_sandbox_set_network(f->c, "sb1", "{\"denyOut\":[\"0.0.0.0/0\"]}", &err));
        OK(catalog_sandbox_get(f->c, "sb1", &got, &err));
        assert_string_equal(got->state, "paused");
        assert_int_equal(got->end_at, 999999);
        assert_int_equal(got->pid, 31337);
        assert_true(got->pid_starttime == 1234567890123ULL);
        assert_string_equal(got->network_json, "{\"denyOut\":[\"0.0.0.0/0\"]}");
        catalog_sandbox_free(got);
        OK(catalog_sandbox_set_network(f->c, "sb1", NULL, &err));
        OK(catalog_sandbox_get(f->c, "sb1", &got, &err));
        assert_null(got->network_json);
        catalog_sandbox_free(got);

        assert_int_equal(catalog_sandbox_set_state(f->c, "sb1", "dead", &err), -EINVAL);
        assert_int_equal(catalog_sandbox_set_state(f->c, "nosuch", "running", &err), -ENOENT);
        assert_int_equal(catalog_sandbox_set_end_at(f->c, "nosuch", 1, &err), -ENOENT);
        assert_int_equal(catalog_sandbox_set_process(f->c, "nosuch", 1, 1, &err), -ENOENT);
        assert_int_equal(catalog_sandbox_set_network(f->c, "sb1", "{", &err), -EINVAL);

        OK(catalog_sandbox_delete(f->c, "sb1", &err));
        assert_int_equal(catalog_sandbox_delete(f->c, "sb1", &err), -ENOENT);
        assert_int_equal(catalog_sandbox_get(f->c, "sb1", &got, &err), -ENOENT);
        assert_int_equal(catalog_sandbox_delete(f->c, "../etc", &err), -ENOENT);
}

static void test_slots_used_in_range(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox s;
        struct nb_error err = {0};
        bool used[10] = {0};
        const uint32_t slots[] = {2000, 2003, 2009, 2010, 1999};

        for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
                char id[16];

                snprintf(id, sizeof(id), "p%zu", i);
                sandbox_fill(&s, id, (int)i);
                s.uid_slot = slots[i];
                OK(catalog_sandbox_insert(f->c, &s, &err));
        }
        OK(catalog_uid_slots_used(f->c, 2000, 2010, used));
        for (uint32_t k = 0; k < 10; k++)
                assert_int_equal(used[k], k == 0 || k == 3 || k == 9);
}

static void test_slot_allocation_reuse(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox s, *got = NULL;
        struct nb_error err = {0};
        uint32_t slot = 99;
        char id[16];

        OK(catalog_uid_slot_allocate(f->c, &slot, &err));
        assert_int_equal(slot, 0);
        for (int i = 0; i < 5; i++) {
                snprintf(id, sizeof(id), "s%d", i);
                sandbox_fill(&s, id, i);
                s.uid_slot = 12345; /* ignored */
                OK(catalog_sandbox_insert_with_slot(f->c, &s, &slot, &err));
                assert_int_equal(slot, i);
                OK(catalog_sandbox_get(f->c, id, &got, &err));
                assert_int_equal(got->uid_slot, i);
                catalog_sandbox_free(got);
        }
        /* Free 1 and 3: the smallest free comes back first. Probing reserves nothing. */
        OK(catalog_sandbox_delete(f->c, "s1", &err));
        OK(catalog_sandbox_delete(f->c, "s3", &err));
        OK(catalog_uid_slot_allocate(f->c, &slot, &err));
        assert_int_equal(slot, 1);
        OK(catalog_uid_slot_allocate(f->c, &slot, &err));
        assert_int_equal(slot, 1);
        sandbox_fill(&s, "n1", 10);
        OK(catalog_sandbox_insert_with_slot(f->c, &s, &slot, &err));
        assert_int_equal(slot, 1);
        /* A paused sandbox keeps its slot (its files are owned by that uid range). */
        OK(catalog_sandbox_set_state(f->c, "s0", "paused", &err));
        sandbox_fill(&s, "n2", 11);
        OK(catalog_sandbox_insert_with_slot(f->c, &s, &slot, &err));
        assert_int_equal(slot, 3);
        sandbox_fill(&s, "n3", 12);
        OK(catalog_sandbox_insert_with_slot(f->c, &s, &slot, &err));
        assert_int_equal(slot, 5);
        /* A failed insert does not leak a slot. */
        sandbox_fill(&s, "n3", 13);
        assert_int_equal(catalog_sandbox_insert_with_slot(f->c, &s, &slot, &err), -EEXIST);
        OK(catalog_uid_slot_allocate(f->c, &slot, &err));
        assert_int_equal(slot, 6);
        /* Delete slot 0: it is the smallest again. */
        OK(catalog_sandbox_delete(f->c, "s0", &err));
        OK(catalog_uid_slot_allocate(f->c, &slot, &err));
        assert_int_equal(slot, 0);
}

static void test_expired_and_all(void **state)
{
        struct fixture *f = *state;
        struct catalog_sandbox s, **all = NULL;
        struct nb_error err = {0};
        char **ids = NULL;
        size_t n = 0;

        sandbox_fill(&s, "late", 30);
        s.end_at = 3000;
        s.uid_slot = 0;
        OK(catalog_sandbox_insert(f->c, &s, &err));
        sandbox_fill(&s, "early", 10);
        s.end_at = 1000;
        s.uid_slot = 1;
        OK(catalog_sandbox_insert(f->c, &s, &err));
        sandbox_fill(&s, "exact", 20);
        s.end_at = 2000;
        s.uid_slot = 2;
        OK(catalog_sandbox_insert(f->c, &s, &err));
        sandbox_fill(&s, "paused", 5);
        s.end_at = 500;
        s.uid_slot = 3;
        s.state = (char *)"paused";
        OK(catalog_sandbox_insert(f->c, &s, &err));

        OK(catalog_sandbox_list_expired(f->c, 2000, &ids, &n, &err));
        assert_int_equal(n, 2);
        assert_string_equal(ids[0], "early");
        assert_string_equal(ids[1], "exact"); /* end_at == now counts as expired */
        catalog_strv_free(ids, n);
        OK(catalog_sandbox_list_expired(f->c, 999, &ids, &n, &err));
        assert_int_equal(n, 0);
        catalog_strv_free(ids, n);

        OK(catalog_sandbox_list_all(f->c, &all, &n, &err));
        assert_int_equal(n, 4);
        assert_string_equal(all[0]->id, "paused");
        assert_string_equal(all[1]->id, "early");
        assert_string_equal(all[2]->id, "exact");
        assert_string_equal(all[3]->id, "late");
        catalog_sandbox_array_free(all, n);
}

#define THREADS 8
#define PER_THREAD 60

struct worker {
        struct catalog *c;
        int index;
        int failures;
};

static void *worker_main(void *p)
{
        struct worker *w = p;

        for (int i = 0; i < PER_THREAD; i++) {
                struct catalog_sandbox s, *got = NULL, **page = NULL;
                struct catalog_sandbox_filter filter = {.limit = 10};
                struct nb_error err = {0};
                uint32_t slot;
                size_t n;
                char id[16];

                snprintf(id, sizeof(id), "t%dn%d", w->index, i);
                sandbox_fill(&s, id, (int64_t)w->index * 1000 + i);
                if (catalog_sandbox_insert_with_slot(w->c, &s, &slot, &err) < 0) {
                        w->failures++;
                        continue;
                }
                if (catalog_sandbox_get(w->c, id, &got, &err) < 0 || got->uid_slot != slot)
                        w->failures++;
                catalog_sandbox_free(got);
                if (catalog_sandbox_set_end_at(w->c, id, i, &err) < 0)
                        w->failures++;
                if (i % 10 == 0) {
                        if (catalog_sandbox_list(w->c, &filter, &page, &n, NULL, &err) < 0)
                                w->failures++;
                        catalog_sandbox_array_free(page, n);
                }
                /* Delete every third row so slots are reused while others allocate. */
                if (i % 3 == 0 && catalog_sandbox_delete(w->c, id, &err) < 0)
                        w->failures++;
        }
        return NULL;
}

static void test_threads_hammer(void **state)
{
        struct fixture *f = *state;
        struct worker w[THREADS];
        pthread_t th[THREADS];
        struct catalog_sandbox **all = NULL;
        struct nb_error err = {0};
        bool seen[THREADS * PER_THREAD] = {false};
        size_t n = 0;

        for (int i = 0; i < THREADS; i++) {
                w[i] = (struct worker){.c = f->c, .index = i};
                assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
        }
        for (int i = 0; i < THREADS; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(w[i].failures, 0);
        }
        OK(catalog_sandbox_list_all(f->c, &all, &n, &err));
        assert_int_equal(n, THREADS * (PER_THREAD - PER_THREAD / 3));
        /* Every live row has its own slot. */
        for (size_t i = 0; i < n; i++) {
                assert_true(all[i]->uid_slot < THREADS * PER_THREAD);
                assert_false(seen[all[i]->uid_slot]);
                seen[all[i]->uid_slot] = true;
        }
        catalog_sandbox_array_free(all, n);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_insert_rejects, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_setters_and_delete, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_slot_allocation_reuse, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_slots_used_in_range, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_expired_and_all, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_threads_hammer, fixture_setup, fixture_teardown),
        };

        return cmocka_run_group_tests_name("catalog-sandboxes", tests, NULL, NULL);
}
