/* Schema migrations: numbered SQL steps recorded in schema_migrations(version,
 * applied_at). catalog_open() applies the missing ones in one IMMEDIATE
 * transaction, so two processes opening the same file at once cannot both
 * apply a step, and a crash mid-way leaves the previous version intact.
 *
 * Rules: never edit a shipped step; add a new one. Steps run with
 * foreign_keys=ON. */
#include <stdio.h>

#include "catalog-internal.h"

struct migration {
        unsigned version;
        const char *sql;
};

static const struct migration migrations[] = {
        {1, /* keys, templates and sandboxes as the first daemon needed them */
         "CREATE TABLE api_keys ("
         "  id TEXT PRIMARY KEY,"
         "  name TEXT NOT NULL UNIQUE,"
         "  prefix TEXT NOT NULL,"
         "  hash TEXT NOT NULL UNIQUE," /* sha256 hex of the secret; the secret itself is never stored */
         "  created_at INTEGER NOT NULL,"
         "  last_used_at INTEGER NOT NULL DEFAULT 0"
         ") STRICT;"
         "CREATE TABLE templates ("
         "  id TEXT PRIMARY KEY,"
         "  name TEXT NOT NULL UNIQUE,"
         "  layers_json TEXT NOT NULL CHECK (json_valid(layers_json) AND json_type(layers_json) = 'array'),"
         "  default_user TEXT NOT NULL,"
         "  default_workdir TEXT NOT NULL,"
         "  envs_json TEXT NOT NULL DEFAULT '{}'"
         "    CHECK (json_valid(envs_json) AND json_type(envs_json) = 'object'),"
         "  cpu_count INTEGER NOT NULL CHECK (cpu_count >= 0),"
         "  memory_mb INTEGER NOT NULL CHECK (memory_mb >= 0),"
         "  disk_mb INTEGER NOT NULL CHECK (disk_mb >= 0),"
         "  no_new_privs INTEGER NOT NULL,"
         "  envd_version TEXT NOT NULL,"
         "  created_at INTEGER NOT NULL,"
         "  updated_at INTEGER NOT NULL"
         ") STRICT;"
         "CREATE TABLE template_aliases ("
         "  alias TEXT PRIMARY KEY,"
         "  template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE"
         ") STRICT;"
         "CREATE INDEX template_aliases_by_template ON template_aliases(template_id);"
         "CREATE TABLE sandboxes ("
         "  id TEXT PRIMARY KEY,"
         "  template_id TEXT NOT NULL,"
         "  alias TEXT,"
         "  state TEXT NOT NULL CHECK (state IN ('running', 'paused')),"
         "  metadata_json TEXT NOT NULL DEFAULT '{}'"
         "    CHECK (json_valid(metadata_json) AND json_type(metadata_json) = 'object'),"
         "  envs_json TEXT NOT NULL DEFAULT '{}'"
         "    CHECK (json_valid(envs_json) AND json_type(envs_json) = 'object'),"
         "  started_at INTEGER NOT NULL,"
         "  end_at INTEGER NOT NULL,"
         "  cpu_count INTEGER NOT NULL,"
         "  memory_mb INTEGER NOT NULL,"
         "  disk_mb INTEGER NOT NULL,"
         "  pid INTEGER NOT NULL DEFAULT 0,"
         "  pid_starttime INTEGER NOT NULL DEFAULT 0," /* u64 stored as its i64 bit pattern */
         "  uid_slot INTEGER NOT NULL UNIQUE CHECK (uid_slot >= 0),"
         "  access_token TEXT,"
         "  auto_pause INTEGER NOT NULL DEFAULT 0,"
         "  allow_internet_access INTEGER," /* NULL = unset */
         "  secure INTEGER NOT NULL DEFAULT 0"
         ") STRICT;"
         /* Keyset pagination walks this index in both directions. */
         "CREATE INDEX sandboxes_by_start ON sandboxes(started_at, id);"},
        {2, /* SDK 2.x lifecycle and network settings; template start/ready commands for the warm pool */
         "ALTER TABLE templates ADD COLUMN start_cmd TEXT;"
         "ALTER TABLE templates ADD COLUMN ready_cmd TEXT;"
         "ALTER TABLE sandboxes ADD COLUMN lifecycle_json TEXT"
         "  CHECK (lifecycle_json IS NULL OR json_valid(lifecycle_json));"
         "ALTER TABLE sandboxes ADD COLUMN network_json TEXT"
         "  CHECK (network_json IS NULL OR json_valid(network_json));"
         /* The lifecycle thread asks "which running sandboxes have expired" every second. */
         "CREATE INDEX sandboxes_by_end ON sandboxes(state, end_at);"},
};

unsigned catalog_schema_version(void)
{
        return migrations[ELEMENTSOF(migrations) - 1].version;
}

int catalog_schema_version_of(sqlite3 *db, unsigned *ret, struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = catalog_prepare(
                db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'",
                &st, err);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return catalog_db_error(db, rc, err, "cannot read the schema");
        if (sqlite3_column_int(st, 0) == 0) {
                *ret = 0;
                return 0;
        }
        sqlite3_finalize(TAKE_PTR(st));

        r = catalog_prepare(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", &st, err);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return catalog_db_error(db, rc, err, "cannot read the schema version");
        *ret = (unsigned)sqlite3_column_int64(st, 0);
        return 0;
}

static int migration_record(sqlite3 *db, unsigned version, struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = catalog_prepare(db, "INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)", &st,
                            err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, version);
        sqlite3_bind_int64(st, 2, catalog_now_ms());
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return catalog_db_error(db, rc, err, "cannot record the migration");
        return 0;
}

static int migrate_locked(sqlite3 *db, unsigned target, struct nb_error *err)
{
        unsigned current;
        int r;

        r = catalog_exec(db,
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "  version INTEGER PRIMARY KEY,"
                         "  applied_at INTEGER NOT NULL"
                         ") STRICT",
                         err);
        if (r < 0)
                return r;
        /* Read inside the transaction: another process may have migrated meanwhile. */
        r = catalog_schema_version_of(db, &current, err);
        if (r < 0)
                return r;
        if (current > catalog_schema_version())
                return nb_error_set(err, -EPROTONOSUPPORT,
                                    "catalog schema version %u is newer than this nestbox knows (%u); "
                                    "run a newer nestbox or restore an older state directory",
                                    current, catalog_schema_version());

        for (size_t i = 0; i < ELEMENTSOF(migrations); i++) {
                const struct migration *m = &migrations[i];

                if (m->version <= current || m->version > target)
                        continue;
                r = catalog_exec(db, m->sql, err);
                if (r >= 0)
                        r = migration_record(db, m->version, err);
                if (r < 0) {
                        nb_error_prefix(err, "migration %u", m->version);
                        return r;
                }
        }
        return 0;
}

int catalog_migrate(sqlite3 *db, unsigned target, struct nb_error *err)
{
        int r;

        r = catalog_tx_begin(db, err);
        if (r < 0)
                return r;
        r = migrate_locked(db, target, err);
        if (r < 0) {
                catalog_tx_rollback(db);
                return r;
        }
        return catalog_tx_commit(db, err);
}
