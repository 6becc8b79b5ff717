/* The paged, filtered sandbox listing behind GET /v2/sandboxes (protocol.md §2.5).
 *
 * Keyset pagination: rows are ordered by (started_at, id) and the cursor names the
 * last row of the previous page, so the next page starts strictly after it. Unlike
 * OFFSET, this never skips or repeats a row that existed for the whole walk, however
 * many sandboxes are created or killed between pages. Every filter, metadata
 * included, is applied in SQL before LIMIT, so pages are never short or empty while
 * more matching rows exist.
 *
 * Cursor: base64url (no padding) of "<started_at>__<id>", as E2B's own nextToken
 * (which uses an RFC 3339 time where we use milliseconds). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../base/buf.h"
#include "catalog-internal.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define CURSOR_RAW_MAX (20 + 2 + CATALOG_SANDBOX_ID_MAX) /* "-9223372036854775808" "__" id */

static char *cursor_encode(int64_t started_at, const char *id)
{
        char raw[CURSOR_RAW_MAX + 1];
        char *out, *o;
        int n;

        n = snprintf(raw, sizeof(raw), "%" PRId64 "__%s", started_at, id);
        if (n < 0 || (size_t)n >= sizeof(raw))
                return NULL;
        out = malloc(((size_t)n + 2) / 3 * 4 + 1);
        if (!out)
                return NULL;
        o = out;
        for (int i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;
                int left = n - i;

                if (left > 1)
                        v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
                if (left > 2)
                        v |= (unsigned char)raw[i + 2];
                *o++ = b64url[(v >> 18) & 63];
                *o++ = b64url[(v >> 12) & 63];
                if (left > 1)
                        *o++ = b64url[(v >> 6) & 63];
                if (left > 2)
                        *o++ = b64url[v & 63];
        }
        *o = 0;
        return out;
}

static int b64url_value(char ch)
{
        const char *p = ch ? strchr(b64url, ch) : NULL;

        return p ? (int)(p - b64url) : -1;
}

/* Strict: only the url alphabet, padding tolerated at the end, the decoded text must
 * be exactly "<digits>__<valid id>". Anything else is a client error, never a crash. */
static int cursor_decode(const char *cursor, int64_t *ret_started_at,
                         char ret_id[static CATALOG_SANDBOX_ID_MAX + 1])
{
        char raw[CURSOR_RAW_MAX + 1];
        size_t len = strlen(cursor), n = 0;
        uint32_t acc = 0;
        int bits = 0;
        const char *sep;
        char *end;
        long long t;

        while (len > 0 && cursor[len - 1] == '=')
                len--;
        if (len == 0 || len > (CURSOR_RAW_MAX + 2) / 3 * 4 || len % 4 == 1)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                int v = b64url_value(cursor[i]);

                if (v < 0)
                        return -EINVAL;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (n >= CURSOR_RAW_MAX)
                                return -EINVAL;
                        raw[n++] = (char)((acc >> bits) & 0xff);
                }
        }
        raw[n] = 0;
        if (strlen(raw) != n)
                return -EINVAL; /* embedded NUL */

        sep = strstr(raw, "__");
        if (!sep || sep == raw || raw[0] == '-' || raw[0] == '+')
                return -EINVAL;
        errno = 0;
        t = strtoll(raw, &end, 10);
        if (errno != 0 || end != sep)
                return -EINVAL;
        if (!catalog_sandbox_id_valid(sep + 2))
                return -EINVAL;
        *ret_started_at = t;
        strcpy(ret_id, sep + 2);
        return 0;
}

static int list_build_sql(const struct catalog_sandbox_filter *f, bool has_cursor, struct buf *sql)
{
        const char *dir = f->ascending ? "ASC" : "DESC";
        int r;

        r = buf_printf(sql, "SELECT " CATALOG_SANDBOX_COLUMNS " FROM sandboxes WHERE 1");
        if (r >= 0 && f->states == CATALOG_STATE_RUNNING)
                r = buf_printf(sql, " AND state = 'running'");
        if (r >= 0 && f->states == CATALOG_STATE_PAUSED)
                r = buf_printf(sql, " AND state = 'paused'");
        /* "template: ID or alias": match what the sandbox was created from, by any of its names. */
        if (r >= 0 && f->template_id)
                r = buf_printf(
                        sql, " AND (template_id = ?1 OR alias = ?1"
                             " OR template_id IN (SELECT template_id FROM template_aliases WHERE alias = ?1)"
                             " OR template_id IN (SELECT id FROM templates WHERE name = ?1))");
        if (r >= 0 && f->started_after > 0)
                r = buf_printf(sql, " AND started_at > ?2");
        if (r >= 0 && has_cursor)
                r = buf_printf(sql, " AND (started_at, id) %s (?3, ?4)", f->ascending ? ">" : "<");
        /* json_each matches keys exactly (no JSON-path quoting of '.', '"' or '['), and type = 'text'
         * keeps {"k": 1} from matching "1". */
        for (size_t i = 0; r >= 0 && i < f->n_metadata; i++)
                r = buf_printf(sql,
                               " AND EXISTS (SELECT 1 FROM json_each(sandboxes.metadata_json)"
                               " WHERE key = ?%zu AND type = 'text' AND value = ?%zu)",
                               6 + 2 * i, 7 + 2 * i);
        if (r >= 0)
                r = buf_printf(sql, " ORDER BY started_at %s, id %s LIMIT ?5", dir, dir);
        return r;
}

int catalog_sandbox_list(struct catalog *c, const struct catalog_sandbox_filter *f,
                         struct catalog_sandbox ***ret, size_t *ret_n, char **ret_next_cursor,
                         struct nb_error *err)
{
        _cleanup_(catalog_unlockp) struct catalog *locked = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_(buf_done) struct buf sql = {0};
        struct catalog_sandbox **v = NULL;
        _cleanup_free_ char *next = NULL;
        char cursor_id[CATALOG_SANDBOX_ID_MAX + 1];
        int64_t cursor_started = 0;
        size_t limit = f->limit ? f->limit : CATALOG_LIST_LIMIT_MAX, n = 0;
        int rc, r;

        if (limit > CATALOG_LIST_LIMIT_MAX)
                return nb_error_set(err, -EINVAL, "limit must be between 1 and %d", CATALOG_LIST_LIMIT_MAX);
        if (f->states & ~(unsigned)(CATALOG_STATE_RUNNING | CATALOG_STATE_PAUSED))
                return nb_error_set(err, -EINVAL, "unknown sandbox state filter");
        if (f->n_metadata > CATALOG_LIST_METADATA_MAX)
                return nb_error_set(err, -EINVAL, "at most %d metadata filters are allowed",
                                    CATALOG_LIST_METADATA_MAX);
        for (size_t i = 0; i < 2 * f->n_metadata; i++)
                if (!f->metadata_kv || !f->metadata_kv[i])
                        return nb_error_set(err, -EINVAL, "metadata filter %zu has no key or value", i / 2);
        if (f->cursor && cursor_decode(f->cursor, &cursor_started, cursor_id) < 0)
                return nb_error_set(err, -EINVAL, "invalid nextToken '%.64s'", f->cursor);

        r = list_build_sql(f, f->cursor != NULL, &sql);
        if (r < 0)
                return nb_error_oom(err);

        locked = catalog_lock(c);
        rc = sqlite3_prepare_v2(c->db, (const char *)sql.data, (int)sql.len, &st, NULL);
        if (rc != SQLITE_OK)
                return catalog_db_error(c->db, rc, err, "cannot prepare sandbox listing");
        if (f->template_id)
                catalog_bind_text(st, 1, f->template_id);
        if (f->started_after > 0)
                sqlite3_bind_int64(st, 2, f->started_after);
        if (f->cursor) {
                sqlite3_bind_int64(st, 3, cursor_started);
                catalog_bind_text(st, 4, cursor_id);
        }
        /* One row more than asked tells whether another page exists. */
        sqlite3_bind_int64(st, 5, (int64_t)limit + 1);
        for (size_t i = 0; i < 2 * f->n_metadata; i++)
                catalog_bind_text(st, (int)(6 + i), f->metadata_kv[i]);

        r = catalog_sandbox_collect(c, st, limit + 1, &v, &n, err);
        if (r < 0)
                return r;
        if (n > limit) {
                catalog_sandbox_free(v[limit]);
                n = limit;
                next = cursor_encode(v[n - 1]->started_at, v[n - 1]->id);
                if (!next) {
                        catalog_sandbox_array_free(v, n);
                        return nb_error_oom(err);
                }
        }
        *ret = v;
        *ret_n = n;
        if (ret_next_cursor)
                *ret_next_cursor = TAKE_PTR(next);
        return 0;
}
