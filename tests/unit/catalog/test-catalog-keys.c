/* API keys: format, verification, revocation, and the secret never touching disk. */
#include "helpers.h"

#include <openssl/evp.h>

static bool in_files(const char *db_path, const char *needle)
{
        static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
        bool found = false;

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                char path[256];
                size_t n = 0;
                char *data;

                snprintf(path, sizeof(path), "%s%s", db_path, suffixes[i]);
                data = read_all(path, &n);
                if (data && memmem(data, n, needle, strlen(needle)))
                        found = true;
                free(data);
        }
        return found;
}

static void sha256_hex(const char *s, char out[65])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        assert_int_equal(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL), 1);
        for (unsigned i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", md[i]);
}

static void test_create_and_verify(void **state)
{
        struct fixture *f = *state;
        struct catalog_key *key = NULL;
        struct nb_error err = {0};
        char *secret = NULL, bad[64];

        OK(catalog_key_create(f->c, "laptop", &secret, &key, &err));
        assert_int_equal(strlen(secret), CATALOG_KEY_LEN);
        assert_memory_equal(secret, "e2b_", 4);
        for (size_t i = 4; i < CATALOG_KEY_LEN; i++)
                assert_non_null(strchr("0123456789abcdef", secret[i]));
        assert_string_equal(key->name, "laptop");
        assert_int_equal(strlen(key->id), 16);
        assert_int_equal(strlen(key->prefix), 8);
        assert_memory_equal(key->prefix, secret, 8);
        assert_true(key->created_at > 0);
        assert_int_equal(key->last_used_at, 0);

        assert_int_equal(catalog_key_verify(f->c, secret), 1);
        assert_int_equal(catalog_key_verify(f->c, NULL), 0);
        assert_int_equal(catalog_key_verify(f->c, ""), 0);
        assert_int_equal(catalog_key_verify(f->c, "e2b_"), 0);
        snprintf(bad, sizeof(bad), "%s", secret);
        bad[10] = bad[10] == 'a' ? 'b' : 'a';
        assert_int_equal(catalog_key_verify(f->c, bad), 0);
        snprintf(bad, sizeof(bad), "%sx", secret); /* too long */
        assert_int_equal(catalog_key_verify(f->c, bad), 0);
        snprintf(bad, sizeof(bad), "%s", secret);
        bad[CATALOG_KEY_LEN - 1] = 0; /* too short */
        assert_int_equal(catalog_key_verify(f->c, bad), 0);
        snprintf(bad, sizeof(bad), "E2B_%s", secret + 4); /* the prefix is case-sensitive */
        assert_int_equal(catalog_key_verify(f->c, bad), 0);

        catalog_key_free(key);
        free(secret);
}

static void test_secret_never_stored(void **state)
{
        struct fixture *f = *state;
        struct nb_error err = {0};
        char *secret = NULL, hash[65];

        OK(catalog_key_create(f->c, "ci", &secret, NULL, &err));
        assert_int_equal(catalog_key_verify(f->c, secret), 1);

        /* Neither the key nor its random part is in the database, its WAL or its shm... */
        assert_false(in_files(f->db_path, secret));
        assert_false(in_files(f->db_path, secret + 4));
        /* ...while its hash is (so we grep the right files). */
        sha256_hex(secret, hash);
        assert_true(in_files(f->db_path, hash));

        /* And still not after a checkpoint moved everything into the main file. */
        f->c = catalog_close(f->c);
        assert_false(in_files(f->db_path, secret + 4));
        OK(catalog_open(f->db_path, &f->c, &err));
        assert_int_equal(catalog_key_verify(f->c, secret), 1);
        free(secret);
}

static void test_names(void **state)
{
        struct fixture *f = *state;
        struct nb_error err = {0};
        char *secret = NULL, long_name[80];

        OK(catalog_key_create(f->c, "dup", &secret, NULL, &err));
        free(secret);
        secret = NULL;
        assert_int_equal(catalog_key_create(f->c, "dup", &secret, NULL, &err), -EEXIST);
        assert_null(secret);
        assert_non_null(strstr(err.message, "dup"));
        assert_int_equal(catalog_key_create(f->c, "", &secret, NULL, &err), -EINVAL);
        assert_int_equal(catalog_key_create(f->c, NULL, &secret, NULL, &err), -EINVAL);
        assert_int_equal(catalog_key_create(f->c, "tab\there", &secret, NULL, &err), -EINVAL);
        memset(long_name, 'x', 65);
        long_name[65] = 0;
        assert_int_equal(catalog_key_create(f->c, long_name, &secret, NULL, &err), -EINVAL);
        long_name[64] = 0;
        OK(catalog_key_create(f->c, long_name, &secret, NULL, &err));
        free(secret);
}

static void test_list_revoke_count(void **state)
{
        struct fixture *f = *state;
        struct catalog_key **keys = NULL, *k1 = NULL;
        struct nb_error err = {0};
        char *s1 = NULL, *s2 = NULL, *s3 = NULL;
        size_t n = 99;

        OK(catalog_key_count(f->c, &n));
        assert_int_equal(n, 0);
        OK(catalog_key_list(f->c, &keys, &n, &err));
        assert_int_equal(n, 0);
        catalog_key_array_free(keys, n);

        OK(catalog_key_create(f->c, "one", &s1, &k1, &err));
        OK(catalog_key_create(f->c, "two", &s2, NULL, &err));
        OK(catalog_key_create(f->c, "three", &s3, NULL, &err));
        OK(catalog_key_count(f->c, &n));
        assert_int_equal(n, 3);
        OK(catalog_key_list(f->c, &keys, &n, &err));
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(strlen(keys[i]->prefix), 8);
                assert_int_equal(strlen(keys[i]->id), 16);
        }
        catalog_key_array_free(keys, n);

        /* Revoke by id, then by name. */
        OK(catalog_key_revoke(f->c, k1->id, &err));
        assert_int_equal(catalog_key_verify(f->c, s1), 0);
        assert_int_equal(catalog_key_verify(f->c, s2), 1);
        OK(catalog_key_revoke(f->c, "two", &err));
        assert_int_equal(catalog_key_verify(f->c, s2), 0);
        assert_int_equal(catalog_key_verify(f->c, s3), 1);
        assert_int_equal(catalog_key_revoke(f->c, "two", &err), -ENOENT);
        assert_int_equal(catalog_key_revoke(f->c, "", &err), -EINVAL);
        OK(catalog_key_count(f->c, &n));
        assert_int_equal(n, 1);
        OK(catalog_key_list(f->c, &keys, &n, &err));
        assert_int_equal(n, 1);
        assert_string_equal(keys[0]->name, "three");
        /* verify() recorded the use. */
        assert_true(keys[0]->last_used_at > 0);
        catalog_key_array_free(keys, n);

        catalog_key_free(k1);
        free(s1);
        free(s2);
        free(s3);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_and_verify, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_secret_never_stored, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_names, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_list_revoke_count, fixture_setup, fixture_teardown),
        };

        return cmocka_run_group_tests_name("catalog-keys", tests, NULL, NULL);
}
