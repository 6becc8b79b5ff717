/* GET /sandboxes/{id}/logs (v1, the E2B CLI's `sandbox logs`) and
 * GET /v2/sandboxes/{id}/logs: the sandbox's own log, i.e. what its agent wrote to
 * agent.log (start-up, every process started and ended, watch errors), one entry
 * per line of base/log.c's format "<RFC 3339 UTC> <ident> <level>: <message>".
 * The agent bounds that file (log_set_file_limit), so reading it whole is bounded. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../base/macro.h"
#include "../catalog/catalog.h"
#include "../daemon.h"
#include "../runtime/runtime.h"
#include "../wire/jsonstr.h"
#include "handlers.h"
#include "list-query.h"
#include "reply.h"

#define LOGS_LIMIT_DEFAULT 1000
#define LOGS_LIMIT_MAX 1000

enum level { LEVEL_DEBUG, LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR };
static const char *const level_names[] = {"debug", "info", "warn", "error"};

struct entry {
        int64_t at_ms;
        enum level level;
        const char *logger;  /* points into the line */
        const char *message; /* points into the line */
};

static bool parse_level(const char *word, size_t n, enum level *ret)
{
        static const struct {
                const char *name;
                enum level level;
        } map[] = {{"error", LEVEL_ERROR}, {"warning", LEVEL_WARN}, {"info", LEVEL_INFO}, {"debug", LEVEL_DEBUG}};

        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strlen(map[i].name) == n && memcmp(map[i].name, word, n) == 0) {
                        *ret = map[i].level;
                        return true;
                }
        return false;
}

/* "2026-11-26T11:42:33.123Z" -> unix ms; false when the line does not start so. */
static bool parse_time(const char *s, int64_t *ret)
{
        struct tm tm = {0};
        int ms = 0, used = 0;

        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec, &ms, &used) != 7 || used != 24)
                return false;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        *ret = (int64_t)timegm(&tm) * 1000 + ms;
        return true;
}

/* Splits one line (no newline) in place. A line of another shape (a driver's stray
 * stderr, say) is kept whole as an info message at the previous line's time. */
static void parse_line(char *line, int64_t previous_ms, struct entry *e)
{
        char *ident, *level, *colon;

        *e = (struct entry){.at_ms = previous_ms, .level = LEVEL_INFO, .logger = "nestbox-agent", .message = line};
        if (!parse_time(line, &e->at_ms) || line[24] != ' ') {
                e->at_ms = previous_ms;
                return;
        }
        ident = line + 25;
        level = strchr(ident, ' ');
        if (!level)
                return;
        colon = strchr(level + 1, ':');
        if (!colon || colon[1] != ' ' || !parse_level(level + 1, (size_t)(colon - level - 1), &e->level))
                return;
        *level = 0;
        e->logger = ident;
        e->message = colon + 2;
}

/* The message may quote a command line, which is bytes: JSON wants UTF-8. */
static json_t *entry_json(const struct entry *e, bool v1_line)
{
        _cleanup_free_ char *message = utf8_sanitize(e->message), *logger = utf8_sanitize(e->logger);
        char when[64];
        time_t secs = (time_t)(e->at_ms / 1000);
        struct tm tm;
        json_t *o;

        if (!message || !logger)
                return NULL;
        gmtime_r(&secs, &tm);
        snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(e->at_ms % 1000));
        if (v1_line) {
                /* The CLI parses `line` as JSON and prints its level and logger. */
                json_t *line = json_pack("{s:s, s:s, s:s}", "level", level_names[e->level], "logger", logger,
                                         "message", message);
                char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;

                json_decref(line);
                o = text ? json_pack("{s:s, s:s}", "timestamp", when, "line", text) : NULL;
                free(text);
                return o;
        }
        return json_pack("{s:s, s:s, s:s, s:{s:s}}", "timestamp", when, "level", level_names[e->level], "message",
                         message, "fields", "logger", logger);
}

struct query {
        int64_t from_ms; /* forward: at or after; backward: at or before */
        bool backward;
        enum level min_level;
        const char *search;
        size_t limit;
};

static bool wanted(const struct query *q, const struct entry *e)
{
        if (q->backward ? e->at_ms > q->from_ms : e->at_ms < q->from_ms)
                return false;
        if (e->level < q->min_level)
                return false;
        return !q->search || strstr(e->message, q->search);
}

/* Appends the entries q selects to `entries` (and, for v1, the raw form to `lines`),
 * oldest first, or newest first when backward. */
static int read_log(int fd, const struct query *q, json_t *entries, json_t *lines)
{
        FILE *f = fdopen(fd, "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int64_t previous = 0;
        int r = 0;

        if (!f) {
                r = -errno;
                close(fd);
                return r;
        }
        while ((n = getline(&line, &cap, f)) >= 0) {
                struct entry e;

                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = 0;
                if (n == 0)
                        continue;
                parse_line(line, previous, &e);
                previous = e.at_ms;
                if (!wanted(q, &e))
                        continue;
                if (json_array_append_new(entries, entry_json(&e, false)) < 0 ||
                    (lines && json_array_append_new(lines, entry_json(&e, true)) < 0)) {
                        r = -ENOMEM;
                        break;
                }
                /* Backward keeps the newest `limit`: drop the oldest as newer ones come. */
                if (json_array_size(entries) > q->limit) {
                        if (!q->backward)
                                break;
                        json_array_remove(entries, 0);
                        if (lines)
                                json_array_remove(lines, 0);
                }
        }
        if (json_array_size(entries) > q->limit) {
                json_array_remove(entries, q->limit);
                if (lines)
                        json_array_remove(lines, q->limit);
        }
        if (q->backward) {
                for (size_t i = 0, j = json_array_size(entries); i + 1 < j; i++, j--) {
                        json_t *a = json_incref(json_array_get(entries, i)), *b = json_incref(json_array_get(entries, j - 1));

                        json_array_set_new(entries, i, b);
                        json_array_set_new(entries, j - 1, a);
                }
        }
        fclose(f);
        return r;
}

/* Absent leaves *ret alone. */
static int int_arg(const struct api_call *call, const char *name, int64_t min, int64_t max, int64_t *ret)
{
        const char *v = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, name);

        return v ? query_parse_int(v, min, max, ret) : 0;
}

static enum MHD_Result reply_logs(const struct api_call *call, const struct query *q, bool v1)
{
        enum MHD_Result ret;
        json_t *entries, *lines = NULL, *body;
        int r, fd;

        if (api_sandbox_known(call, &ret))
                return ret;

        entries = json_array();
        if (v1)
                lines = json_array();
        if (!entries || (v1 && !lines)) {
                json_decref(entries);
                json_decref(lines);
                return reply_error(call->c, 500, "out of memory");
        }
        fd = runtime_open_log(call->d->runtime, call->id);
        r = fd == -ENOENT ? 0 : fd < 0 ? fd : read_log(fd, q, entries, lines);
        if (r < 0) {
                json_decref(entries);
                json_decref(lines);
                return reply_error(call->c, 500, "cannot read the logs of sandbox '%s': %s", call->id, strerror(-r));
        }
        body = v1 ? json_pack("{s:o, s:o}", "logs", lines, "logEntries", entries) : json_pack("{s:o}", "logs", entries);
        if (!body)
                return reply_error(call->c, 500, "out of memory");
        return reply_json(call->c, 200, body);
}

enum MHD_Result api_sandbox_logs(const struct api_call *call)
{
        struct query q = {.limit = LOGS_LIMIT_DEFAULT};
        int64_t start = 0, limit = LOGS_LIMIT_DEFAULT;

        if (int_arg(call, "start", 0, INT64_MAX, &start) < 0)
                return reply_error(call->c, 400, "'start' must be a unix time in milliseconds");
        if (int_arg(call, "limit", 0, LOGS_LIMIT_MAX, &limit) < 0)
                return reply_error(call->c, 400, "'limit' must be an integer from 0 to %d", LOGS_LIMIT_MAX);
        q.from_ms = start;
        q.limit = (size_t)limit;
        return reply_logs(call, &q, true);
}

enum MHD_Result api_sandbox_logs_v2(const struct api_call *call)
{
        const char *direction = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, "direction");
        const char *level = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, "level");
        struct query q = {.limit = LOGS_LIMIT_DEFAULT};
        int64_t cursor = -1, limit = LOGS_LIMIT_DEFAULT;

        if (int_arg(call, "cursor", 0, INT64_MAX, &cursor) < 0)
                return reply_error(call->c, 400, "'cursor' must be a unix time in milliseconds");
        if (int_arg(call, "limit", 0, LOGS_LIMIT_MAX, &limit) < 0)
                return reply_error(call->c, 400, "'limit' must be an integer from 0 to %d", LOGS_LIMIT_MAX);
        if (direction && strcmp(direction, "forward") != 0 && strcmp(direction, "backward") != 0)
                return reply_error(call->c, 400, "'direction' must be 'forward' or 'backward'");
        q.backward = direction && strcmp(direction, "backward") == 0;
        if (level && !parse_level(level, strlen(level), &q.min_level) &&
            !(strcmp(level, "warn") == 0 && (q.min_level = LEVEL_WARN, true)))
                return reply_error(call->c, 400, "'level' must be one of debug, info, warn, error");
        q.search = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, "search");
        q.limit = (size_t)limit;
        /* No cursor: from the beginning going forward, from now going backward. */
        q.from_ms = cursor >= 0 ? cursor : q.backward ? INT64_MAX : 0;
        return reply_logs(call, &q, false);
}
