/* Sandbox rows: insert (with its uid slot chosen in the same transaction), get,
 * the few fields that change during a sandbox's life, delete, and the two
 * unpaged listings the daemon needs (expired ones, all for re-adoption).
 * The paged, filtered listing for the API is in sandboxes-list.c. */
#include <jansson.h>
#include <string.h>

#include "catalog-internal.h"

void catalog_sandbox_free(struct catalog_sandbox *s)
{
        if (!s)
                return;
        free(s->template_id);
        free(s->alias);
        free(s->state);
        free(s->metadata_json);
        free(s->envs_json);
        free(s->access_token);
        free(s->lifecycle_json);
        free(s->network_json);
        free(s);
}

void catalog_sandbox_array_free(struct catalog_sandbox **ss, size_t n)
{
        if (!ss)
                return;
        for (size_t i = 0; i < n; i++)
                catalog_sandbox_free(ss[i]);
        free(ss);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct catalog_sandbox *, catalog_sandbox_free);

int catalog_sandbox_from_row(sqlite3_stmt *st, struct catalog_sandbox **ret)
{
        _cleanup_(catalog_sandbox_freep) struct catalog_sandbox *s = calloc(1, sizeof(*s));
        const unsigned char *id;

        if (!s)
                return -ENOMEM;
        id = sqlite3_column_text(st, 0);
        if (!id || strlen((const char *)id) > CATALOG_SANDBOX_ID_MAX)
                return -EBADMSG;
        strcpy(s->id, (const char *)id);
        if (catalog_column_strdup(st, 1, &s->template_id) < 0 ||
            catalog_column_strdup(st, 2, &s->alias) < 0 || catalog_column_strdup(st, 3, &s->state) < 0 ||
            catalog_column_strdup(st, 4, &s->metadata_json) < 0 ||
            catalog_column_strdup(st, 5, &s->envs_json) < 0 ||
            catalog_column_strdup(st, 14, &s->access_token) < 0 ||
            catalog_column_strdup(st, 18, &s->lifecycle_json) < 0 ||
            catalog_column_strdup(st, 19, &s->network_json) < 0)
                return -ENOMEM;
        s->started_at = sqlite3_column_int64(st, 6);
        s->end_at = sqlite3_column_int64(st, 7);
        s->cpu_count = (unsigned)sqlite3_column_int64(st, 8);
        s->memory_mb = (unsigned)sqlite3_column_int64(st, 9);
        s->disk_mb = (unsigned)sqlite3_column_int64(st, 10);
        s->pid = sqlite3_column_int64(st, 11);
        s->pid_starttime = (uint64_t)sqlite3_column_int64(st, 12);
        s->uid_slot = (uint32_t)sqlite3_column_int64(st, 13);
        s->auto_pause = sqlite3_column_int(st, 15) != 0;
        s->allow_internet_access =
                sqlite3_column_type(st, 16) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 16) != 0;
        s->secure = sqlite3_column_int(st, 17) != 0;
        *ret = TAKE_PTR(s);
        return 0;
}

int catalog_sandbox_collect(struct catalog *c, sqlite3_stmt *st, size_t max, struct catalog_sandbox ***ret,
                            size_t *ret_n, struct nb_error *err)
{
        struct catalog_sandbox **v = NULL;
        size_t n = 0, cap = 0;
        int rc = SQLITE_DONE, r;

        while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (catalog_grow((void **)&v, &cap, n, sizeof(*v)) < 0) {
                        r = nb_error_oom(err);
                        goto fail;
                }
                r = catalog_sandbox_from_row(st, &v[n]);
                if (r < 0) {
                        r = nb_error_set(err, r, "catalog: cannot read sandbox row");
                        goto fail;
                }
                n++;
        }
        if (n < max && rc != SQLITE_DONE) {
                r = catalog_db_error(c->db, rc, err, "cannot list sandboxes");
                goto fail;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        catalog_sandbox_array_free(v, n);
        return r;
}

static bool json_valid_or_null(const char *s)
{
        json_t *j;

        if (!s)
                return true;
        j = json_loads(s, JSON_DECODE_ANY, NULL);
        json_decref(j);
        return j != NULL;
}

static bool state_valid(const char *state)
{
        return state && (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0);
}

static int sandbox_validate(const struct catalog_sandbox *s, struct nb_error *err)
{
        if (!catalog_sandbox_id_valid(s->id))
                return nb_error_set(err, -EINVAL, "sandbox id '%.64s' must be 1 to 32 of [a-z0-9]", s->id);
        if (!s->template_id || !*s->template_id)
                return nb_error_set(err, -EINVAL, "sandbox %s: no template id", s->id);
        if (!state_valid(s->state))
                return nb_error_set(err, -EINVAL, "sandbox %s: state must be 'running' or 'paused'", s->id);
        if (s->metadata_json && !catalog_json_is_string_map(s->metadata_json))
                return nb_error_set(err, -EINVAL, "sandbox %s: metadata must be a JSON object of strings",
                                    s->id);
        if (s->envs_json && !catalog_json_is_string_map(s->envs_json))
                return nb_error_set(err, -EINVAL, "sandbox %s: envs must be a JSON object of strings",
                                    s->id);
        if (!json_valid_or_null(s->lifecycle_json) || !json_valid_or_null(s->network_json))
                return nb_error_set(err, -EINVAL, "sandbox %s: lifecycle and network must be JSON", s->id);
        if (s->allow_internet_access < -1 || s->allow_internet_access > 1)
                return nb_error_set(err, -EINVAL, "sandbox %s: allow_internet_access must be -1, 0 or 1",
                                    s->id);
        return 0;
}

static int slot_smallest_free_locked(struct catalog *c, uint32_t *ret, struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t slot;
        int rc, r;

        /* Either 0 is free, or the answer is one past a used slot whose successor is free.
         * Both probes use the UNIQUE index on uid_slot. */
        r = catalog_prepare(
                c->db,
                "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM sandboxes WHERE uid_slot = 0) THEN 0 "
                "ELSE (SELECT min(a.uid_slot) + 1 FROM sandboxes a WHERE NOT EXISTS "
                "      (SELECT 1 FROM sandboxes b WHERE b.uid_slot = a.uid_slot + 1)) END",
                &st, err);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return catalog_db_error(c->db, rc, err, "cannot allocate a uid slot");
        slot = sqlite3_column_int64(st, 0);
        if (slot < 0 || slot > UINT32_MAX)
                return nb_error_set(err, -ENOSPC, "no free uid slot");
        *ret = (uint32_t)slot;
        return 0;
}

static int sandbox_insert_locked(struct catalog *c, const struct catalog_sandbox *s, uint32_t slot,
                                 struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = catalog_prepare(c->db,
                            "INSERT INTO sandboxes(" CATALOG_SANDBOX_COLUMNS
                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                            "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                            &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, s->id);
        catalog_bind_text(st, 2, s->template_id);
        catalog_bind_text(st, 3, s->alias);
        catalog_bind_text(st, 4, s->state);
        catalog_bind_text(st, 5, s->metadata_json ?: "{}");
        catalog_bind_text(st, 6, s->envs_json ?: "{}");
        sqlite3_bind_int64(st, 7, s->started_at);
        sqlite3_bind_int64(st, 8, s->end_at);
        sqlite3_bind_int64(st, 9, s->cpu_count);
        sqlite3_bind_int64(st, 10, s->memory_mb);
        sqlite3_bind_int64(st, 11, s->disk_mb);
        sqlite3_bind_int64(st, 12, s->pid);
        sqlite3_bind_int64(st, 13, (int64_t)s->pid_starttime);
        sqlite3_bind_int64(st, 14, slot);
        catalog_bind_text(st, 15, s->access_token);
        sqlite3_bind_int(st, 16, s->auto_pause);
        if (s->allow_internet_access < 0)
                sqlite3_bind_null(st, 17);
        else
                sqlite3_bind_int(st, 17, s->allow_internet_access);
        sqlite3_bind_int(st, 18, s->secure);
        catalog_bind_text(st, 19, s->lifecycle_json);
        catalog_bind_text(st, 20, s->network_json);
        rc = sqlite3_step(st);
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                return nb_error_set(err, -EEXIST, "sandbox %s already exists", s->id);
        if (rc == SQLITE_CONSTRAINT_UNIQUE)
                return nb_error_set(err, -EEXIST, "uid slot %u is already used by another sandbox", slot);
        if (rc != SQLITE_DONE)
                return catalog_db_error(c->db, rc, err, "cannot store sandbox");
        return 0;
}

int catalog_sandbox_insert(struct catalog *c, const struct catalog_sandbox *s, struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        int r;

        r = sandbox_validate(s, err);
        if (r < 0)
                return r;
        locked = catalog_lock(c);
        return sandbox_insert_locked(c, s, s->uid_slot, err);
}

int catalog_sandbox_insert_with_slot(struct catalog *c, const struct catalog_sandbox *s, uint32_t *ret_slot,
                                     struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        uint32_t slot;
        int r;

        r = sandbox_validate(s, err);
        if (r < 0)
                return r;
        locked = catalog_lock(c);
        /* IMMEDIATE: another process's creator cannot pick the same slot between our read and insert. */
        r = catalog_tx_begin(c->db, err);
        if (r < 0)
                return r;
        r = slot_smallest_free_locked(c, &slot, err);
        if (r >= 0)
                r = sandbox_insert_locked(c, s, slot, err);
        if (r >= 0)
                r = catalog_tx_commit(c->db, err);
        else
                catalog_tx_rollback(c->db);
        if (r < 0)
                return r;
        if (ret_slot)
                *ret_slot = slot;
        return 0;
}

int catalog_uid_slot_allocate(struct catalog *c, uint32_t *ret_slot, struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = catalog_lock(c);

        return slot_smallest_free_locked(c, ret_slot, err);
}

int catalog_uid_slots_used(struct catalog *c, uint32_t lo, uint32_t hi, bool *used)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = catalog_lock(c);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = catalog_prepare(c->db, "SELECT uid_slot FROM sandboxes WHERE uid_slot >= ?1 AND uid_slot < ?2", &st,
                            NULL);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, lo);
        sqlite3_bind_int64(st, 2, hi);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                sqlite3_int64 slot = sqlite3_column_int64(st, 0);

                if (slot >= lo && slot < hi)
                        used[slot - lo] = true;
        }
        return rc == SQLITE_DONE ? 0 : -EIO;
}

int catalog_sandbox_get(struct catalog *c, const char *id, struct catalog_sandbox **ret,
                        struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        if (!catalog_sandbox_id_valid(id))
                return nb_error_set(err, -ENOENT, "sandbox '%.64s' not found", id ?: "");
        locked = catalog_lock(c);
        r = catalog_prepare(c->db, "SELECT " CATALOG_SANDBOX_COLUMNS " FROM sandboxes WHERE id = ?1", &st,
                            err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return nb_error_set(err, -ENOENT, "sandbox '%s' not found", id);
        if (rc != SQLITE_ROW)
                return catalog_db_error(c->db, rc, err, "cannot read sandbox");
        r = catalog_sandbox_from_row(st, ret);
        if (r < 0)
                return nb_error_set(err, r, "catalog: cannot read sandbox '%s'", id);
        return 0;
}

/* Runs an UPDATE/DELETE whose ?1 is the sandbox id; binds ?2.. through the callback's values. */
struct sandbox_value {
        enum { VALUE_NONE, VALUE_TEXT, VALUE_INT } kind;
        const char *text; /* VALUE_TEXT; NULL binds SQL NULL */
        int64_t i;
};

static int sandbox_change(struct catalog *c, const char *id, const char *sql,
                          const struct sandbox_value *values, size_t n_values, const char *what,
                          struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        if (!catalog_sandbox_id_valid(id))
                return nb_error_set(err, -ENOENT, "sandbox '%.64s' not found", id ?: "");
        locked = catalog_lock(c);
        r = catalog_prepare(c->db, sql, &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, id);
        for (size_t i = 0; i < n_values; i++) {
                if (values[i].kind == VALUE_TEXT)
                        catalog_bind_text(st, (int)i + 2, values[i].text);
                else
                        sqlite3_bind_int64(st, (int)i + 2, values[i].i);
        }
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return catalog_db_error(c->db, rc, err, what);
        if (sqlite3_changes(c->db) == 0)
                return nb_error_set(err, -ENOENT, "sandbox '%s' not found", id);
        return 0;
}

int catalog_sandbox_set_state(struct catalog *c, const char *id, const char *state, struct nb_error *err)
{
        struct sandbox_value v[] = {{.kind = VALUE_TEXT, .text = state}};

        if (!state_valid(state))
                return nb_error_set(err, -EINVAL, "sandbox state must be 'running' or 'paused'");
        return sandbox_change(c, id, "UPDATE sandboxes SET state = ?2 WHERE id = ?1", v, ELEMENTSOF(v),
                              "cannot set sandbox state", err);
}

int catalog_sandbox_set_end_at(struct catalog *c, const char *id, int64_t end_at, struct nb_error *err)
{
        struct sandbox_value v[] = {{.kind = VALUE_INT, .i = end_at}};

        return sandbox_change(c, id, "UPDATE sandboxes SET end_at = ?2 WHERE id = ?1", v, ELEMENTSOF(v),
                              "cannot set sandbox end time", err);
}

int catalog_sandbox_set_process(struct catalog *c, const char *id, int64_t pid, uint64_t starttime,
                                struct nb_error *err)
{
        struct sandbox_value v[] = {{.kind = VALUE_INT, .i = pid},
                                    {.kind = VALUE_INT, .i = (int64_t)starttime}};

        return sandbox_change(c, id, "UPDATE sandboxes SET pid = ?2, pid_starttime = ?3 WHERE id = ?1", v,
                              ELEMENTSOF(v), "cannot set sandbox process", err);
}

int catalog_sandbox_set_network(struct catalog *c, const char *id, const char *network_json,
                                struct nb_error *err)
{
        struct sandbox_value v[] = {{.kind = VALUE_TEXT, .text = network_json}};

        if (!json_valid_or_null(network_json))
                return nb_error_set(err, -EINVAL, "sandbox network config must be JSON");
        return sandbox_change(c, id, "UPDATE sandboxes SET network_json = ?2 WHERE id = ?1", v,
                              ELEMENTSOF(v), "cannot set sandbox network", err);
}

int catalog_sandbox_set_network_access(struct catalog *c, const char *id, const char *network_json,
                                       int allow_internet_access, struct nb_error *err)
{
        struct sandbox_value v[] = {{.kind = VALUE_TEXT, .text = network_json},
                                    {.kind = VALUE_INT, .i = allow_internet_access}};

        if (!json_valid_or_null(network_json))
                return nb_error_set(err, -EINVAL, "sandbox network config must be JSON");
        if (allow_internet_access < -1 || allow_internet_access > 1)
                return nb_error_set(err, -EINVAL, "allow_internet_access must be -1, 0 or 1");
        return sandbox_change(c, id,
                              "UPDATE sandboxes SET network_json = ?2, "
                              "allow_internet_access = CASE WHEN ?3 < 0 THEN NULL ELSE ?3 END WHERE id = ?1",
                              v, ELEMENTSOF(v), "cannot set sandbox network", err);
}

int catalog_sandbox_delete(struct catalog *c, const char *id, struct nb_error *err)
{
        return sandbox_change(c, id, "DELETE FROM sandboxes WHERE id = ?1", NULL, 0, "cannot delete sandbox",
                              err);
}

int catalog_sandbox_list_expired(struct catalog *c, int64_t now_ms, char ***ret_ids, size_t *ret_n,
                                 struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = catalog_lock(c);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char **v = NULL;
        size_t n = 0, cap = 0;
        int rc, r;

        r = catalog_prepare(
                c->db,
                "SELECT id FROM sandboxes WHERE state = 'running' AND end_at <= ?1 ORDER BY end_at, id", &st,
                err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (catalog_grow((void **)&v, &cap, n, sizeof(*v)) < 0 ||
                    catalog_column_strdup(st, 0, &v[n]) < 0) {
                        catalog_strv_free(v, n);
                        return nb_error_oom(err);
                }
                n++;
        }
        if (rc != SQLITE_DONE) {
                catalog_strv_free(v, n);
                return catalog_db_error(c->db, rc, err, "cannot list expired sandboxes");
        }
        *ret_ids = v;
        *ret_n = n;
        return 0;
}

int catalog_sandbox_list_all(struct catalog *c, struct catalog_sandbox ***ret, size_t *ret_n,
                             struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = catalog_lock(c);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = catalog_prepare(c->db,
                            "SELECT " CATALOG_SANDBOX_COLUMNS " FROM sandboxes ORDER BY started_at, id", &st,
                            err);
        if (r < 0)
                return r;
        return catalog_sandbox_collect(c, st, SIZE_MAX, ret, ret_n, err);
}
