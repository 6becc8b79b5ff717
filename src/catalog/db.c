/* Opening and closing the catalog, plus the small SQLite helpers every other
 * catalog file uses (errno mapping, prepare/exec, transactions, column copies). */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../base/log.h"
#include "catalog-internal.h"

int catalog_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CONSTRAINT:
                /* CHECK and NOT NULL constraints guard field shapes; UNIQUE/PRIMARY KEY mean "taken". */
                if (rc == SQLITE_CONSTRAINT_CHECK || rc == SQLITE_CONSTRAINT_NOTNULL)
                        return -EINVAL;
                if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
                        return -ENOENT;
                return -EEXIST;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_RANGE:
        case SQLITE_MISMATCH:
        case SQLITE_MISUSE:
                return -EINVAL;
        default:
                return -EIO;
        }
}

int catalog_db_error(sqlite3 *db, int rc, struct nb_error *err, const char *what)
{
        return nb_error_set(err, catalog_errno(rc) ?: -EIO, "catalog: %s: %s", what,
                            db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

int catalog_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret, struct nb_error *err)
{
        int rc = sqlite3_prepare_v2(db, sql, -1, ret, NULL);

        if (rc != SQLITE_OK)
                return catalog_db_error(db, rc, err, "cannot prepare statement");
        return 0;
}

int catalog_exec(sqlite3 *db, const char *sql, struct nb_error *err)
{
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

        if (rc != SQLITE_OK)
                return catalog_db_error(db, rc, err, "statement failed");
        return 0;
}

int catalog_tx_begin(sqlite3 *db, struct nb_error *err)
{
        return catalog_exec(db, "BEGIN IMMEDIATE", err);
}

int catalog_tx_commit(sqlite3 *db, struct nb_error *err)
{
        int r = catalog_exec(db, "COMMIT", err);

        if (r < 0)
                catalog_tx_rollback(db);
        return r;
}

void catalog_tx_rollback(sqlite3 *db)
{
        /* After some errors SQLite has already rolled back; ROLLBACK then fails harmlessly. */
        if (!sqlite3_get_autocommit(db))
                (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int catalog_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
        int rc = s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, idx);

        return rc == SQLITE_OK ? 0 : catalog_errno(rc);
}

int catalog_column_strdup(sqlite3_stmt *st, int i, char **ret)
{
        const unsigned char *s = sqlite3_column_text(st, i);
        char *copy;

        if (!s) {
                /* NULL text is either SQL NULL or an allocation failure inside SQLite. */
                if (sqlite3_column_type(st, i) != SQLITE_NULL)
                        return -ENOMEM;
                *ret = NULL;
                return 0;
        }
        copy = strdup((const char *)s);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

int catalog_grow(void **p, size_t *cap, size_t n, size_t size)
{
        size_t ncap;
        void *np;

        if (n < *cap)
                return 0;
        ncap = *cap ? *cap * 2 : 16;
        np = reallocarray(*p, ncap, size);
        if (!np)
                return -ENOMEM;
        *p = np;
        *cap = ncap;
        return 0;
}

int64_t catalog_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool catalog_sandbox_id_valid(const char *id)
{
        size_t n;

        if (!id)
                return false;
        n = strlen(id);
        if (n < 1 || n > CATALOG_SANDBOX_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9')))
                        return false;
        return true;
}

bool catalog_json_is_string_map(const char *s)
{
        json_t *o, *v;
        const char *k;
        bool ok;

        if (!s)
                return false;
        o = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
        ok = o && json_is_object(o);
        if (ok)
                json_object_foreach(o, k, v)
                {
                        if (!json_is_string(v))
                                ok = false;
                }
        json_decref(o);
        return ok;
}

static int catalog_pragmas(sqlite3 *db, struct nb_error *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        const unsigned char *mode;
        int rc, r;

        /* Wait for another connection's write lock instead of failing at once. */
        rc = sqlite3_busy_timeout(db, 5000);
        if (rc != SQLITE_OK)
                return catalog_db_error(db, rc, err, "cannot set busy timeout");

        r = catalog_prepare(db, "PRAGMA journal_mode=WAL", &st, err);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return catalog_db_error(db, rc, err, "cannot enable WAL");
        /* The pragma answers with the mode in force; on some filesystems WAL is refused silently. */
        mode = sqlite3_column_text(st, 0);
        if (!mode || strcmp((const char *)mode, "wal") != 0)
                return nb_error_set(err, -EOPNOTSUPP,
                                    "catalog: the file system refused WAL mode (journal_mode is '%s'); "
                                    "put the state directory on a local file system",
                                    mode ? (const char *)mode : "?");

        /* NORMAL is durable across a process crash and consistent across power loss (WAL).
         * trusted_schema stays at its default (ON): SQLite 3.40 does not mark json_valid()
         * innocuous, and our CHECK constraints use it. The file is ours and mode 0600. */
        return catalog_exec(db,
                            "PRAGMA synchronous=NORMAL;"
                            "PRAGMA foreign_keys=ON;",
                            err);
}

/* SQLite creates files with 0644; the catalog holds access tokens, so create it 0600
 * ourselves. The -wal and -shm files copy the main file's mode. */
static int catalog_create_file(const char *db_path, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;

        fd = open(db_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "catalog: cannot open '%s'", db_path);
        return 0;
}

int catalog_open(const char *db_path, struct catalog **ret, struct nb_error *err)
{
        _cleanup_free_ struct catalog *c = NULL;
        sqlite3 *db = NULL;
        int rc, r;

        if (!db_path || !*db_path)
                return nb_error_set(err, -EINVAL, "catalog: no database path given");
        r = catalog_create_file(db_path, err);
        if (r < 0)
                return r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return nb_error_oom(err);

        /* NOMUTEX: our own mutex serializes every use of the connection. SQLite opens its
         * files with O_CLOEXEC itself. */
        rc = sqlite3_open_v2(db_path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
        if (rc != SQLITE_OK) {
                r = nb_error_set(err, catalog_errno(rc), "catalog: cannot open '%s': %s", db_path,
                                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
                sqlite3_close_v2(db);
                return r;
        }
        sqlite3_extended_result_codes(db, 1);

        r = catalog_pragmas(db, err);
        if (r >= 0)
                r = catalog_migrate(db, catalog_schema_version(), err);
        if (r < 0) {
                sqlite3_close_v2(db);
                nb_error_prefix(err, "'%s'", db_path);
                return r;
        }

        pthread_mutex_init(&c->lock, NULL);
        c->db = db;
        *ret = TAKE_PTR(c);
        return 0;
}

struct catalog *catalog_close(struct catalog *c)
{
        if (!c)
                return NULL;
        /* Refresh the planner's statistics on the way out (cheap; SQLite's own advice). */
        (void)sqlite3_exec(c->db, "PRAGMA optimize", NULL, NULL, NULL);
        if (sqlite3_close_v2(c->db) != SQLITE_OK)
                log_debug("catalog: close reported an error, ignoring");
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}
