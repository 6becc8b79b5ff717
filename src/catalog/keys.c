/* API keys. The secret ("e2b_" + 40 hex) leaves this file once, from
 * catalog_key_create(); the table keeps only its SHA-256, so a leaked catalog
 * file does not leak usable keys. Verification compares hashes in constant
 * time against every row, so timing says nothing about which bytes matched. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "../base/random.h"
#include "catalog-internal.h"

#define KEY_HASH_HEX 64
#define KEY_LAST_USED_GRANULARITY_MS 60000 /* one write a minute per key, not one per request */

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = 0;
}

static int key_hash(const char *secret, char out[static KEY_HASH_HEX + 1])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        if (EVP_Digest(secret, strlen(secret), md, &n, EVP_sha256(), NULL) != 1 || n != KEY_HASH_HEX / 2)
                return -EIO;
        hex_encode(md, n, out);
        OPENSSL_cleanse(md, sizeof(md));
        return 0;
}

static bool key_well_formed(const char *s)
{
        size_t plen = strlen(CATALOG_KEY_PREFIX);

        if (strnlen(s, CATALOG_KEY_LEN + 1) != CATALOG_KEY_LEN || strncmp(s, CATALOG_KEY_PREFIX, plen) != 0)
                return false;
        for (size_t i = plen; i < CATALOG_KEY_LEN; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool key_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (n < 1 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
                        return false;
        return true;
}

void catalog_key_free(struct catalog_key *k)
{
        if (!k)
                return;
        free(k->id);
        free(k->name);
        free(k->prefix);
        free(k);
}

void catalog_key_array_free(struct catalog_key **keys, size_t n)
{
        if (!keys)
                return;
        for (size_t i = 0; i < n; i++)
                catalog_key_free(keys[i]);
        free(keys);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct catalog_key *, catalog_key_free);

static int key_from_row(sqlite3_stmt *st, struct catalog_key **ret)
{
        _cleanup_(catalog_key_freep) struct catalog_key *k = calloc(1, sizeof(*k));

        if (!k)
                return -ENOMEM;
        if (catalog_column_strdup(st, 0, &k->id) < 0 || catalog_column_strdup(st, 1, &k->name) < 0 ||
            catalog_column_strdup(st, 2, &k->prefix) < 0)
                return -ENOMEM;
        k->created_at = sqlite3_column_int64(st, 3);
        k->last_used_at = sqlite3_column_int64(st, 4);
        *ret = TAKE_PTR(k);
        return 0;
}

static int key_get_locked(struct catalog *c, const char *id, struct catalog_key **ret, struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = catalog_prepare(c->db,
                            "SELECT id, name, prefix, created_at, last_used_at FROM api_keys WHERE id = ?1",
                            &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return nb_error_set(err, -ENOENT, "API key not found");
        if (rc != SQLITE_ROW)
                return catalog_db_error(c->db, rc, err, "cannot read API key");
        r = key_from_row(st, ret);
        if (r < 0)
                return nb_error_oom(err);
        return 0;
}

int catalog_key_create(struct catalog *c, const char *name, char **ret_secret, struct catalog_key **ret_key,
                       struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_(catalog_key_freep) struct catalog_key *key = NULL;
        char secret[CATALOG_KEY_LEN + 1], hash[KEY_HASH_HEX + 1], id[17], prefix[9];
        char *secret_copy;
        int rc, r;

        if (!key_name_valid(name))
                return nb_error_set(err, -EINVAL, "API key name must be 1 to 64 printable characters");

        memcpy(secret, CATALOG_KEY_PREFIX, strlen(CATALOG_KEY_PREFIX));
        r = random_hex(secret + strlen(CATALOG_KEY_PREFIX),
                       (CATALOG_KEY_LEN - strlen(CATALOG_KEY_PREFIX)) / 2);
        if (r >= 0)
                r = random_hex(id, 8);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot read random bytes for an API key");
        r = key_hash(secret, hash);
        if (r < 0) {
                OPENSSL_cleanse(secret, sizeof(secret));
                return nb_error_set(err, r, "cannot hash the API key (OpenSSL SHA-256 failed)");
        }
        memcpy(prefix, secret, 8);
        prefix[8] = 0;

        locked = catalog_lock(c);
        r = catalog_prepare(
                c->db,
                "INSERT INTO api_keys(id, name, prefix, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)", &st,
                err);
        if (r < 0)
                goto fail;
        catalog_bind_text(st, 1, id);
        catalog_bind_text(st, 2, name);
        catalog_bind_text(st, 3, prefix);
        catalog_bind_text(st, 4, hash);
        sqlite3_bind_int64(st, 5, catalog_now_ms());
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
                if (catalog_errno(sqlite3_extended_errcode(c->db)) == -EEXIST)
                        r = nb_error_set(err, -EEXIST, "an API key named '%.64s' already exists", name);
                else
                        r = catalog_db_error(c->db, rc, err, "cannot store API key");
                goto fail;
        }
        if (ret_key) {
                r = key_get_locked(c, id, &key, err);
                if (r < 0)
                        goto fail;
        }

        secret_copy = strdup(secret);
        OPENSSL_cleanse(secret, sizeof(secret));
        if (!secret_copy)
                return nb_error_oom(err); /* the row exists but nobody can know its key: harmless */
        *ret_secret = secret_copy;
        if (ret_key)
                *ret_key = TAKE_PTR(key);
        return 0;
fail:
        OPENSSL_cleanse(secret, sizeof(secret));
        return r;
}

int catalog_key_verify(struct catalog *c, const char *presented)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *match_id = NULL;
        char hash[KEY_HASH_HEX + 1];
        int64_t match_last_used = 0;
        int rc, r;

        if (!presented || !key_well_formed(presented))
                return 0;
        r = key_hash(presented, hash);
        if (r < 0)
                return r;

        locked = catalog_lock(c);
        r = catalog_prepare(c->db, "SELECT id, hash, last_used_at FROM api_keys", &st, NULL);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *h = (const char *)sqlite3_column_text(st, 1);

                /* Every row costs the same: no early exit, no strcmp. */
                if (h && sqlite3_column_bytes(st, 1) == KEY_HASH_HEX &&
                    CRYPTO_memcmp(h, hash, KEY_HASH_HEX) == 0 && !match_id) {
                        match_id = strdup((const char *)sqlite3_column_text(st, 0));
                        if (!match_id)
                                return -ENOMEM;
                        match_last_used = sqlite3_column_int64(st, 2);
                }
        }
        if (rc != SQLITE_DONE)
                return catalog_errno(rc);
        if (!match_id)
                return 0;

        if (catalog_now_ms() - match_last_used >= KEY_LAST_USED_GRANULARITY_MS) {
                sqlite3_finalize(TAKE_PTR(st));
                r = catalog_prepare(c->db, "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2", &st, NULL);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(st, 1, catalog_now_ms());
                catalog_bind_text(st, 2, match_id);
                /* A failed bookkeeping write must not turn a valid key into a refusal. */
                (void)sqlite3_step(st);
        }
        return 1;
}

int catalog_key_list(struct catalog *c, struct catalog_key ***ret, size_t *ret_n, struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = catalog_lock(c);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct catalog_key **v = NULL;
        size_t n = 0, cap = 0;
        int rc, r;

        r = catalog_prepare(
                c->db,
                "SELECT id, name, prefix, created_at, last_used_at FROM api_keys ORDER BY created_at, id",
                &st, err);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (catalog_grow((void **)&v, &cap, n, sizeof(*v)) < 0)
                        goto oom;
                if (key_from_row(st, &v[n]) < 0)
                        goto oom;
                n++;
        }
        if (rc != SQLITE_DONE) {
                catalog_key_array_free(v, n);
                return catalog_db_error(c->db, rc, err, "cannot list API keys");
        }
        *ret = v;
        *ret_n = n;
        return 0;
oom:
        catalog_key_array_free(v, n);
        return nb_error_oom(err);
}

int catalog_key_revoke(struct catalog *c, const char *id_or_name, struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        if (!id_or_name || !*id_or_name)
                return nb_error_set(err, -EINVAL, "no API key id or name given");
        locked = catalog_lock(c);
        r = catalog_prepare(c->db, "DELETE FROM api_keys WHERE id = ?1 OR name = ?1", &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, id_or_name);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return catalog_db_error(c->db, rc, err, "cannot revoke API key");
        if (sqlite3_changes(c->db) == 0)
                return nb_error_set(err, -ENOENT, "no API key with id or name '%.64s'", id_or_name);
        return 0;
}

int catalog_key_count(struct catalog *c, size_t *ret_n)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = catalog_lock(c);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = catalog_prepare(c->db, "SELECT count(*) FROM api_keys", &st, NULL);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return catalog_errno(rc);
        *ret_n = (size_t)sqlite3_column_int64(st, 0);
        return 0;
}
