/* The catalog: everything the daemon knows, in one SQLite file (WAL mode) under
 * the state directory: API keys, templates and sandboxes. A daemon restart (even
 * after kill -9) rebuilds its view from here.
 *
 * One connection, shared by every thread behind a mutex inside struct catalog:
 * every call below is thread-safe. Writes that must be atomic (a sandbox row and
 * its uid slot) happen in one IMMEDIATE transaction, so two daemons on the same
 * file would also stay consistent.
 *
 * Ownership: every string and struct returned is malloc'ed and owned by the
 * caller; the *_free functions accept NULL. Out-params are written only on
 * success. Times are unix milliseconds everywhere.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/error.h"

struct catalog;

/** Opens (creating if needed, mode 0600) the catalog at db_path and applies pending
 *  migrations in one transaction. -EPROTONOSUPPORT if the file was written by a
 *  newer nestbox (schema version above ours). */
int catalog_open(const char *db_path, struct catalog **ret, struct nb_error *err);
/** Closes the connection; accepts NULL; returns NULL. */
struct catalog *catalog_close(struct catalog *c);
/** The schema version this build writes (highest migration). */
unsigned catalog_schema_version(void);

/* ---- API keys ----------------------------------------------------------------
 * A key is "e2b_" + 40 lowercase hex chars (E2B's own format, so tools that check
 * the prefix accept it). It is returned once by catalog_key_create() and never
 * stored: only its SHA-256 (hex) is kept. */
#define CATALOG_KEY_PREFIX "e2b_"
#define CATALOG_KEY_LEN 44 /* strlen("e2b_") + 40 */

struct catalog_key {
        char *id;     /* 16 lowercase hex chars */
        char *name;   /* unique, 1..64 printable chars */
        char *prefix; /* first 8 chars of the secret, for display ("e2b_1a2b") */
        int64_t created_at;
        int64_t last_used_at; /* 0 = never; updated at most once a minute */
};

/** Creates a key named name (-EEXIST if the name is taken, -EINVAL if empty or too
 *  long). *ret_secret is the key itself: show it once. ret_key may be NULL. */
int catalog_key_create(struct catalog *c, const char *name, char **ret_secret, struct catalog_key **ret_key,
                       struct nb_error *err);
/** 1 when presented is a live key, 0 when not (including NULL or malformed), -errno
 *  on a database failure. Hashes are compared in constant time. */
int catalog_key_verify(struct catalog *c, const char *presented);
/** All keys, oldest first. */
int catalog_key_list(struct catalog *c, struct catalog_key ***ret, size_t *ret_n, struct nb_error *err);
/** Deletes the key whose id or name is id_or_name; -ENOENT if none. */
int catalog_key_revoke(struct catalog *c, const char *id_or_name, struct nb_error *err);
int catalog_key_count(struct catalog *c, size_t *ret_n);
void catalog_key_free(struct catalog_key *k);
void catalog_key_array_free(struct catalog_key **keys, size_t n);

/* ---- Templates ---------------------------------------------------------------- */
struct catalog_template {
        char *id;
        char *name;     /* unique */
        char **aliases; /* each unique across templates */
        size_t n_aliases;
        char *layers_json; /* JSON array of absolute host dirs, top-most first */
        char *default_user;
        char *default_workdir;
        char *envs_json; /* JSON object string -> string */
        char *start_cmd; /* NULL = none; run once at sandbox start (warm pool) */
        char *ready_cmd; /* NULL = none; exits 0 once start_cmd is ready */
        unsigned cpu_count;
        unsigned memory_mb;
        unsigned disk_mb;
        bool no_new_privs;
        char *envd_version;
        int64_t created_at; /* on upsert: 0 = now (kept from the existing row on update) */
        int64_t updated_at; /* set by the catalog; bumped only when something changed */
};

/** Inserts or updates the template with t->id; its aliases replace the old ones.
 *  -EEXIST if t->name or an alias belongs to another template; -EINVAL on a field
 *  that is missing or not valid JSON of the right shape. */
int catalog_template_upsert(struct catalog *c, const struct catalog_template *t, struct nb_error *err);
/** Looks up by id, then name, then alias; -ENOENT if none. */
int catalog_template_get(struct catalog *c, const char *id_or_alias, struct catalog_template **ret,
                         struct nb_error *err);
/** All templates ordered by name. */
int catalog_template_list(struct catalog *c, struct catalog_template ***ret, size_t *ret_n,
                          struct nb_error *err);
/** Deletes a template (id, name or alias). -ENOENT if none; -EBUSY while a sandbox row uses it. */
int catalog_template_delete(struct catalog *c, const char *id_or_alias, struct nb_error *err);
void catalog_template_free(struct catalog_template *t);
void catalog_template_array_free(struct catalog_template **ts, size_t n);

/* ---- Sandboxes ------------------------------------------------------------------ */
#define CATALOG_SANDBOX_ID_MAX 32 /* ids are [a-z0-9]{1,32} */

struct catalog_sandbox {
        char id[CATALOG_SANDBOX_ID_MAX + 1];
        char *template_id;
        char *alias;         /* the template alias the client asked for, or NULL */
        char *state;         /* "running" | "paused" */
        char *metadata_json; /* JSON object string -> string; NULL on insert = "{}" */
        char *envs_json;     /* JSON object string -> string; NULL on insert = "{}" */
        int64_t started_at;
        int64_t end_at;
        unsigned cpu_count;
        unsigned memory_mb;
        unsigned disk_mb;
        int64_t pid;            /* host pid of the sandbox's pid 1; 0 = none yet */
        uint64_t pid_starttime; /* /proc/<pid>/stat field 22, tells pid reuse apart */
        uint32_t uid_slot;      /* unique among rows; the runtime turns it into a uid range */
        char *access_token;     /* envd access token; NULL when not secure */
        bool auto_pause;
        int allow_internet_access; /* -1 unset, 0, 1 */
        bool secure;
        char *lifecycle_json; /* NULL = none */
        char *network_json;   /* NULL = none */
};

/** Inserts s as given (s->uid_slot included). -EEXIST if the id or the uid slot is
 *  taken; -EINVAL on a bad id, state or JSON. */
int catalog_sandbox_insert(struct catalog *c, const struct catalog_sandbox *s, struct nb_error *err);
/** Inserts s with the smallest free uid slot, chosen in the same transaction
 *  (s->uid_slot is ignored); *ret_slot gets it. Use this one: a separate allocate +
 *  insert races with other creators. */
int catalog_sandbox_insert_with_slot(struct catalog *c, const struct catalog_sandbox *s, uint32_t *ret_slot,
                                     struct nb_error *err);
/** Smallest uid slot no row uses, for display or probing only: it is not reserved. */
int catalog_uid_slot_allocate(struct catalog *c, uint32_t *ret_slot, struct nb_error *err);
/** Sets used[s - lo] for every uid slot s in [lo, hi) that a sandbox row holds (used
 *  has hi - lo entries, cleared by the caller). One query, whatever the range. */
int catalog_uid_slots_used(struct catalog *c, uint32_t lo, uint32_t hi, bool *used);

int catalog_sandbox_get(struct catalog *c, const char *id, struct catalog_sandbox **ret,
                        struct nb_error *err);
/* Setters: -ENOENT if no such sandbox. */
int catalog_sandbox_set_state(struct catalog *c, const char *id, const char *state, struct nb_error *err);
int catalog_sandbox_set_end_at(struct catalog *c, const char *id, int64_t end_at, struct nb_error *err);
int catalog_sandbox_set_process(struct catalog *c, const char *id, int64_t pid, uint64_t starttime,
                                struct nb_error *err);
/** network_json may be NULL (no network config). */
int catalog_sandbox_set_network(struct catalog *c, const char *id, const char *network_json,
                                struct nb_error *err);
/** Sets network_json (may be NULL) and allow_internet_access (-1 unset, 0, 1) at once, as
 *  PUT /sandboxes/{id}/network replaces both. */
int catalog_sandbox_set_network_access(struct catalog *c, const char *id, const char *network_json,
                                       int allow_internet_access, struct nb_error *err);
int catalog_sandbox_delete(struct catalog *c, const char *id, struct nb_error *err);

enum {
        CATALOG_STATE_RUNNING = 1 << 0,
        CATALOG_STATE_PAUSED = 1 << 1,
};

#define CATALOG_LIST_LIMIT_MAX 100
#define CATALOG_LIST_METADATA_MAX 64

struct catalog_sandbox_filter {
        unsigned states;                /* CATALOG_STATE_* bits; 0 = both */
        const char *const *metadata_kv; /* k0, v0, k1, v1, ...: every pair must match exactly */
        size_t n_metadata;              /* number of PAIRS in metadata_kv (<= 64) */
        const char *template_id;        /* template id, name or alias; NULL = any */
        int64_t started_after;          /* keep started_at > this; 0 = no bound */
        bool ascending;                 /* default: newest first */
        size_t limit;                   /* 1..100; 0 = 100 */
        const char *cursor;             /* from a previous page, or NULL for the first */
};

/** One page ordered by (started_at, id), newest first unless ascending. The cursor
 *  names the last row returned, so pages stay exact across concurrent inserts and
 *  deletes: no row present for the whole walk is skipped or repeated.
 *  *ret_next_cursor (may be NULL) is NULL on the last page. -EINVAL on a bad
 *  cursor, limit or filter. */
int catalog_sandbox_list(struct catalog *c, const struct catalog_sandbox_filter *f,
                         struct catalog_sandbox ***ret, size_t *ret_n, char **ret_next_cursor,
                         struct nb_error *err);
/** Ids of running sandboxes with end_at <= now_ms, soonest first. */
int catalog_sandbox_list_expired(struct catalog *c, int64_t now_ms, char ***ret_ids, size_t *ret_n,
                                 struct nb_error *err);
/** Every sandbox, oldest first (for re-adoption at start). */
int catalog_sandbox_list_all(struct catalog *c, struct catalog_sandbox ***ret, size_t *ret_n,
                             struct nb_error *err);

void catalog_sandbox_free(struct catalog_sandbox *s);
void catalog_sandbox_array_free(struct catalog_sandbox **ss, size_t n);
void catalog_strv_free(char **v, size_t n);
