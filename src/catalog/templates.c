/* Templates in the catalog: one row per template plus its aliases. A reference
 * from a client (id, name or alias) resolves in that order. Upserting an
 * unchanged template writes nothing, so rescanning the template store at every
 * start keeps updated_at meaningful. */
#include <jansson.h>
#include <string.h>

#include "catalog-internal.h"

#define TEMPLATE_COLUMNS                                                                                    \
        "id, name, layers_json, default_user, default_workdir, envs_json, start_cmd, ready_cmd, "           \
        "cpu_count, memory_mb, disk_mb, no_new_privs, envd_version, created_at, updated_at"

void catalog_template_free(struct catalog_template *t)
{
        if (!t)
                return;
        free(t->id);
        free(t->name);
        catalog_strv_free(t->aliases, t->n_aliases);
        free(t->layers_json);
        free(t->default_user);
        free(t->default_workdir);
        free(t->envs_json);
        free(t->start_cmd);
        free(t->ready_cmd);
        free(t->envd_version);
        free(t);
}

void catalog_template_array_free(struct catalog_template **ts, size_t n)
{
        if (!ts)
                return;
        for (size_t i = 0; i < n; i++)
                catalog_template_free(ts[i]);
        free(ts);
}

void catalog_strv_free(char **v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct catalog_template *, catalog_template_free);

static bool layers_valid(const char *s)
{
        json_t *a, *v;
        size_t i;
        bool ok;

        if (!s)
                return false;
        a = json_loads(s, 0, NULL);
        ok = a && json_is_array(a) && json_array_size(a) > 0;
        if (ok)
                json_array_foreach(a, i, v)
                {
                        if (!json_is_string(v) || json_string_value(v)[0] != '/')
                                ok = false;
                }
        json_decref(a);
        return ok;
}

static int template_validate(const struct catalog_template *t, struct nb_error *err)
{
        if (!t->id || !*t->id || strlen(t->id) > 128)
                return nb_error_set(err, -EINVAL, "template id must be 1 to 128 characters");
        if (!t->name || !*t->name || strlen(t->name) > 128)
                return nb_error_set(err, -EINVAL, "template '%.64s': name must be 1 to 128 characters",
                                    t->id);
        if (!layers_valid(t->layers_json))
                return nb_error_set(
                        err, -EINVAL,
                        "template '%.64s': layers must be a non-empty JSON array of absolute paths", t->id);
        if (t->envs_json && !catalog_json_is_string_map(t->envs_json))
                return nb_error_set(err, -EINVAL, "template '%.64s': envs must be a JSON object of strings",
                                    t->id);
        if (!t->default_user || !*t->default_user)
                return nb_error_set(err, -EINVAL, "template '%.64s': no default user", t->id);
        if (!t->default_workdir || t->default_workdir[0] != '/')
                return nb_error_set(err, -EINVAL,
                                    "template '%.64s': default workdir must be an absolute path", t->id);
        if (!t->envd_version || !*t->envd_version)
                return nb_error_set(err, -EINVAL, "template '%.64s': no envd version", t->id);
        for (size_t i = 0; i < t->n_aliases; i++) {
                if (!t->aliases[i] || !*t->aliases[i] || strlen(t->aliases[i]) > 128)
                        return nb_error_set(err, -EINVAL, "template '%.64s': empty or over-long alias",
                                            t->id);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(t->aliases[i], t->aliases[j]) == 0)
                                return nb_error_set(err, -EINVAL,
                                                    "template '%.64s': alias '%.64s' given twice", t->id,
                                                    t->aliases[i]);
        }
        return 0;
}

/* Resolves a reference to a template id: id first, then name, then alias. */
static int template_resolve_locked(struct catalog *c, const char *ref, char **ret_id, struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = catalog_prepare(c->db,
                            "SELECT coalesce((SELECT id FROM templates WHERE id = ?1),"
                            "                (SELECT id FROM templates WHERE name = ?1),"
                            "                (SELECT template_id FROM template_aliases WHERE alias = ?1))",
                            &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, ref);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return catalog_db_error(c->db, rc, err, "cannot look up template");
        if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                return nb_error_set(err, -ENOENT, "template '%.128s' not found", ref);
        if (catalog_column_strdup(st, 0, ret_id) < 0)
                return nb_error_oom(err);
        return 0;
}

static int template_aliases_load(struct catalog *c, struct catalog_template *t, struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        size_t cap = 0;
        int rc, r;

        r = catalog_prepare(
                c->db, "SELECT alias FROM template_aliases WHERE template_id = ?1 ORDER BY alias", &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, t->id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (catalog_grow((void **)&t->aliases, &cap, t->n_aliases, sizeof(char *)) < 0 ||
                    catalog_column_strdup(st, 0, &t->aliases[t->n_aliases]) < 0)
                        return nb_error_oom(err);
                t->n_aliases++;
        }
        if (rc != SQLITE_DONE)
                return catalog_db_error(c->db, rc, err, "cannot read template aliases");
        return 0;
}

static int template_from_row(struct catalog *c, sqlite3_stmt *st, struct catalog_template **ret,
                             struct nb_error *err)
{
        _cleanup_(catalog_template_freep) struct catalog_template *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return nb_error_oom(err);
        if (catalog_column_strdup(st, 0, &t->id) < 0 || catalog_column_strdup(st, 1, &t->name) < 0 ||
            catalog_column_strdup(st, 2, &t->layers_json) < 0 ||
            catalog_column_strdup(st, 3, &t->default_user) < 0 ||
            catalog_column_strdup(st, 4, &t->default_workdir) < 0 ||
            catalog_column_strdup(st, 5, &t->envs_json) < 0 ||
            catalog_column_strdup(st, 6, &t->start_cmd) < 0 ||
            catalog_column_strdup(st, 7, &t->ready_cmd) < 0 ||
            catalog_column_strdup(st, 12, &t->envd_version) < 0)
                return nb_error_oom(err);
        t->cpu_count = (unsigned)sqlite3_column_int64(st, 8);
        t->memory_mb = (unsigned)sqlite3_column_int64(st, 9);
        t->disk_mb = (unsigned)sqlite3_column_int64(st, 10);
        t->no_new_privs = sqlite3_column_int(st, 11) != 0;
        t->created_at = sqlite3_column_int64(st, 13);
        t->updated_at = sqlite3_column_int64(st, 14);
        r = template_aliases_load(c, t, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

static int template_get_by_id_locked(struct catalog *c, const char *id, struct catalog_template **ret,
                                     struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = catalog_prepare(c->db, "SELECT " TEMPLATE_COLUMNS " FROM templates WHERE id = ?1", &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return nb_error_set(err, -ENOENT, "template '%.128s' not found", id);
        if (rc != SQLITE_ROW)
                return catalog_db_error(c->db, rc, err, "cannot read template");
        return template_from_row(c, st, ret, err);
}

/* Compares what a caller may set (not the timestamps). Aliases compare as sets. */
static bool template_same(const struct catalog_template *a, const struct catalog_template *b)
{
        const char *envs_a = a->envs_json ?: "{}", *envs_b = b->envs_json ?: "{}";

        if (!streq_null(a->name, b->name) || !streq_null(a->layers_json, b->layers_json) ||
            !streq_null(a->default_user, b->default_user) ||
            !streq_null(a->default_workdir, b->default_workdir) || !streq_null(envs_a, envs_b) ||
            !streq_null(a->start_cmd, b->start_cmd) || !streq_null(a->ready_cmd, b->ready_cmd) ||
            !streq_null(a->envd_version, b->envd_version) || a->cpu_count != b->cpu_count ||
            a->memory_mb != b->memory_mb || a->disk_mb != b->disk_mb || a->no_new_privs != b->no_new_privs ||
            a->n_aliases != b->n_aliases)
                return false;
        for (size_t i = 0; i < a->n_aliases; i++) {
                bool found = false;

                for (size_t j = 0; j < b->n_aliases && !found; j++)
                        found = strcmp(a->aliases[i], b->aliases[j]) == 0;
                if (!found)
                        return false;
        }
        return true;
}

/* -EEXIST if ref (a name or alias of template id) already names another template. */
static int template_check_free(struct catalog *c, const char *id, const char *ref, const char *what,
                               struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = catalog_prepare(
                c->db,
                "SELECT id FROM templates WHERE id != ?2 AND (id = ?1 OR name = ?1) "
                "UNION ALL "
                "SELECT template_id FROM template_aliases WHERE alias = ?1 AND template_id != ?2 "
                "LIMIT 1",
                &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, ref);
        catalog_bind_text(st, 2, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return nb_error_set(err, -EEXIST, "template %s '%.64s' already names template '%.64s'", what,
                                    ref, (const char *)sqlite3_column_text(st, 0));
        if (rc != SQLITE_DONE)
                return catalog_db_error(c->db, rc, err, "cannot check template names");
        return 0;
}

static int template_write_locked(struct catalog *c, const struct catalog_template *t, struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t now = catalog_now_ms();
        int rc, r;

        r = template_check_free(c, t->id, t->name, "name", err);
        for (size_t i = 0; r >= 0 && i < t->n_aliases; i++)
                r = template_check_free(c, t->id, t->aliases[i], "alias", err);
        if (r < 0)
                return r;

        r = catalog_prepare(
                c->db,
                "INSERT INTO templates(" TEMPLATE_COLUMNS ") "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
                "ON CONFLICT(id) DO UPDATE SET name = ?2, layers_json = ?3, default_user = ?4, "
                "  default_workdir = ?5, envs_json = ?6, start_cmd = ?7, ready_cmd = ?8, cpu_count = ?9, "
                "  memory_mb = ?10, disk_mb = ?11, no_new_privs = ?12, envd_version = ?13, "
                "  updated_at = ?15",
                &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, t->id);
        catalog_bind_text(st, 2, t->name);
        catalog_bind_text(st, 3, t->layers_json);
        catalog_bind_text(st, 4, t->default_user);
        catalog_bind_text(st, 5, t->default_workdir);
        catalog_bind_text(st, 6, t->envs_json ?: "{}");
        catalog_bind_text(st, 7, t->start_cmd);
        catalog_bind_text(st, 8, t->ready_cmd);
        sqlite3_bind_int64(st, 9, t->cpu_count);
        sqlite3_bind_int64(st, 10, t->memory_mb);
        sqlite3_bind_int64(st, 11, t->disk_mb);
        sqlite3_bind_int(st, 12, t->no_new_privs);
        catalog_bind_text(st, 13, t->envd_version);
        sqlite3_bind_int64(st, 14, t->created_at > 0 ? t->created_at : now);
        sqlite3_bind_int64(st, 15, now);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return catalog_db_error(c->db, rc, err, "cannot store template");
        sqlite3_finalize(TAKE_PTR(st));

        r = catalog_prepare(c->db, "DELETE FROM template_aliases WHERE template_id = ?1", &st, err);
        if (r < 0)
                return r;
        catalog_bind_text(st, 1, t->id);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return catalog_db_error(c->db, rc, err, "cannot replace template aliases");
        sqlite3_finalize(TAKE_PTR(st));

        r = catalog_prepare(c->db, "INSERT INTO template_aliases(alias, template_id) VALUES (?1, ?2)", &st,
                            err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_aliases; i++) {
                sqlite3_reset(st);
                catalog_bind_text(st, 1, t->aliases[i]);
                catalog_bind_text(st, 2, t->id);
                rc = sqlite3_step(st);
                if (rc != SQLITE_DONE)
                        return catalog_db_error(c->db, rc, err, "cannot store template alias");
        }
        return 0;
}

int catalog_template_upsert(struct catalog *c, const struct catalog_template *t, struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        _cleanup_(catalog_template_freep) struct catalog_template *old = NULL;
        int r;

        r = template_validate(t, err);
        if (r < 0)
                return r;

        locked = catalog_lock(c);
        r = catalog_tx_begin(c->db, err);
        if (r < 0)
                return r;
        r = template_get_by_id_locked(c, t->id, &old, err);
        if (r == -ENOENT)
                r = 0;
        if (r >= 0 && !(old && template_same(old, t)))
                r = template_write_locked(c, t, err);
        if (r < 0) {
                catalog_tx_rollback(c->db);
                return r;
        }
        return catalog_tx_commit(c->db, err);
}

int catalog_template_get(struct catalog *c, const char *id_or_alias, struct catalog_template **ret,
                         struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        _cleanup_free_ char *id = NULL;
        int r;

        if (!id_or_alias || !*id_or_alias)
                return nb_error_set(err, -EINVAL, "no template given");
        locked = catalog_lock(c);
        r = template_resolve_locked(c, id_or_alias, &id, err);
        if (r < 0)
                return r;
        return template_get_by_id_locked(c, id, ret, err);
}

int catalog_template_list(struct catalog *c, struct catalog_template ***ret, size_t *ret_n,
                          struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = catalog_lock(c);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct catalog_template **v = NULL;
        size_t n = 0, cap = 0;
        int rc, r;

        r = catalog_prepare(c->db, "SELECT " TEMPLATE_COLUMNS " FROM templates ORDER BY name", &st, err);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (catalog_grow((void **)&v, &cap, n, sizeof(*v)) < 0) {
                        r = nb_error_oom(err);
                        goto fail;
                }
                r = template_from_row(c, st, &v[n], err);
                if (r < 0)
                        goto fail;
                n++;
        }
        if (rc != SQLITE_DONE) {
                r = catalog_db_error(c->db, rc, err, "cannot list templates");
                goto fail;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        catalog_template_array_free(v, n);
        return r;
}

int catalog_template_delete(struct catalog *c, const char *id_or_alias, struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *id = NULL;
        int rc, r;

        if (!id_or_alias || !*id_or_alias)
                return nb_error_set(err, -EINVAL, "no template given");
        locked = catalog_lock(c);
        r = catalog_tx_begin(c->db, err);
        if (r < 0)
                return r;
        r = template_resolve_locked(c, id_or_alias, &id, err);
        if (r < 0)
                goto fail;
        r = catalog_prepare(c->db, "SELECT count(*) FROM sandboxes WHERE template_id = ?1", &st, err);
        if (r < 0)
                goto fail;
        catalog_bind_text(st, 1, id);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                r = catalog_db_error(c->db, rc, err, "cannot check template use");
                goto fail;
        }
        if (sqlite3_column_int64(st, 0) > 0) {
                r = nb_error_set(err, -EBUSY,
                                 "template '%.64s' is used by %lld sandbox(es); kill them first", id,
                                 (long long)sqlite3_column_int64(st, 0));
                goto fail;
        }
        sqlite3_finalize(TAKE_PTR(st));
        r = catalog_prepare(c->db, "DELETE FROM templates WHERE id = ?1", &st, err);
        if (r < 0)
                goto fail;
        catalog_bind_text(st, 1, id);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
                r = catalog_db_error(c->db, rc, err, "cannot delete template");
                goto fail;
        }
        sqlite3_finalize(TAKE_PTR(st));
        return catalog_tx_commit(c->db, err);
fail:
        sqlite3_finalize(TAKE_PTR(st));
        catalog_tx_rollback(c->db);
        return r;
}
