/* What the catalog's files share and nothing outside src/catalog may include:
 * the struct, the lock guard, statement helpers and SQLite -> errno mapping. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "../base/macro.h"
#include "catalog.h"

struct catalog {
        pthread_mutex_t lock; /* guards db and everything SQLite keeps per connection (errmsg) */
        sqlite3 *db;
};

/* Lock guard: `_cleanup_(catalog_unlockp) struct catalog *locked = catalog_lock(c);` */
static inline struct catalog *catalog_lock(struct catalog *c)
{
        pthread_mutex_lock(&c->lock);
        return c;
}
static inline void catalog_unlockp(struct catalog **c)
{
        if (*c)
                pthread_mutex_unlock(&(*c)->lock);
}

static inline void sqlite3_finalizep(sqlite3_stmt **st)
{
        if (*st)
                sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

/** Maps a SQLite result code to -errno (constraint -> -EEXIST, busy -> -EBUSY, ...). */
int catalog_errno(int rc);
/** Sets err from the connection's last error: "<what>: <sqlite message>". Returns -errno. */
int catalog_db_error(sqlite3 *db, int rc, struct nb_error *err, const char *what);
/** Prepares sql; on failure sets err. */
int catalog_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret, struct nb_error *err);
/** Runs one or more statements without results. */
int catalog_exec(sqlite3 *db, const char *sql, struct nb_error *err);

/* Transactions; the caller holds the lock. begin is IMMEDIATE: take the write lock now,
 * so a read-then-write (slot allocation) cannot be overtaken by another connection. */
int catalog_tx_begin(sqlite3 *db, struct nb_error *err);
int catalog_tx_commit(sqlite3 *db, struct nb_error *err);
void catalog_tx_rollback(sqlite3 *db);

/** Binds text or NULL. */
int catalog_bind_text(sqlite3_stmt *st, int idx, const char *s);
/** Copies column i (NULL stays NULL). -ENOMEM when out of memory. */
int catalog_column_strdup(sqlite3_stmt *st, int i, char **ret);

int64_t catalog_now_ms(void);

/** Makes room for element n in the array *p of *cap elements of size bytes (grows by doubling). */
int catalog_grow(void **p, size_t *cap, size_t n, size_t size);

static inline bool streq_null(const char *a, const char *b)
{
        return a == b || (a && b && strcmp(a, b) == 0);
}

/** Applies migrations until the schema is at target (catalog_schema_version() for all).
 *  Exposed to the tests, which build an old database to prove upgrades keep data. */
int catalog_migrate(sqlite3 *db, unsigned target, struct nb_error *err);
/** Current schema version of db (0 for an empty file). */
int catalog_schema_version_of(sqlite3 *db, unsigned *ret, struct nb_error *err);

#define CATALOG_SANDBOX_COLUMNS                                                                             \
        "id, template_id, alias, state, metadata_json, envs_json, started_at, end_at, cpu_count, "          \
        "memory_mb, disk_mb, pid, pid_starttime, uid_slot, access_token, auto_pause, "                      \
        "allow_internet_access, secure, lifecycle_json, network_json"

/** Builds a sandbox from a row selected with CATALOG_SANDBOX_COLUMNS. */
int catalog_sandbox_from_row(sqlite3_stmt *st, struct catalog_sandbox **ret);
/** Steps st for at most max rows, collecting sandboxes. */
int catalog_sandbox_collect(struct catalog *c, sqlite3_stmt *st, size_t max, struct catalog_sandbox ***ret,
                            size_t *ret_n, struct nb_error *err);

/** [a-z0-9]{1,32} */
bool catalog_sandbox_id_valid(const char *id);
/** s is a JSON object whose values are all strings. */
bool catalog_json_is_string_map(const char *s);
