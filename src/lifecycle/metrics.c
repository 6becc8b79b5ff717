/* Metrics sampler and store (see metrics.h). One series per sandbox in a flat array
 * under one lock: a sample is a handful of cgroup reads, and the API reads one series
 * at a time, so nothing here is worth a finer lock. Each series is a ring of the last
 * METRICS_KEEP samples. */
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "../base/macro.h"
#include "../catalog/catalog.h"
#include "../runtime/runtime.h"
#include "ticker.h"

#define METRICS_TICK_MS 1000
#define METRICS_EVERY_MS 5000
#define METRICS_FIRST_AFTER_MS 1000
#define METRICS_KEEP 720 /* an hour of 5 s samples, about 28 KiB per sandbox */
#define DISK_EVERY_MS 10000
#define DISK_MAX_ENTRIES 200000 /* bounds one walk of a sandbox's own files */

struct point {
        int64_t at_ms; /* unix time */
        double cpu_pct;
        unsigned cpu_count;
        uint64_t mem_used, mem_total, mem_cache, disk_used, disk_total;
};

struct series {
        char id[CATALOG_SANDBOX_ID_MAX + 1];
        bool seen;           /* listed as running or paused by the last catalog read */
        int64_t last_mono_ms; /* when cpu_ns was read; 0 = never */
        uint64_t cpu_ns;
        int64_t disk_mono_ms; /* when disk_used was measured; 0 = never */
        uint64_t disk_used;
        struct point *ring; /* METRICS_KEEP slots, allocated on the first sample */
        size_t first, n;
};

struct metrics {
        struct catalog *catalog;
        struct runtime *runtime;
        struct ticker *sampler;
        pthread_mutex_t lock; /* series, n, cap and every series' contents */
        struct series **series;
        size_t n, cap;
};

static struct series *find_locked(struct metrics *m, const char *id)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->series[i]->id, id) == 0)
                        return m->series[i];
        return NULL;
}

static struct series *find_or_add_locked(struct metrics *m, const char *id)
{
        struct series *s = find_locked(m, id);

        if (s)
                return s;
        if (m->n == m->cap) {
                size_t cap = m->cap ? 2 * m->cap : 64;
                struct series **grown = realloc(m->series, cap * sizeof(*grown));

                if (!grown)
                        return NULL;
                m->series = grown;
                m->cap = cap;
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        snprintf(s->id, sizeof(s->id), "%s", id);
        m->series[m->n++] = s;
        return s;
}

static void series_free(struct series *s)
{
        if (s)
                free(s->ring);
        free(s);
}

/* Reads the sandbox's counters and appends one point. Returns -ENOENT when its cgroups
 * are gone (killed meanwhile). */
static int sample_locked(struct metrics *m, struct series *s, const struct catalog_sandbox *row)
{
        struct sandbox_usage u;
        struct point *p;
        int64_t now = clock_monotonic_ms(), wall_ms;
        double pct = 0;
        int r;

        r = runtime_usage(m->runtime, row->id, &u);
        if (r < 0)
                return r;
        if (!s->ring && !(s->ring = calloc(METRICS_KEEP, sizeof(*s->ring))))
                return -ENOMEM;
        /* The first sample covers the sandbox's life so far; later ones the last interval. */
        wall_ms = s->last_mono_ms ? now - s->last_mono_ms : clock_realtime_ms() - row->started_at;
        if (wall_ms > 0 && row->cpu_count > 0 && u.cpu_ns >= s->cpu_ns)
                pct = (double)(u.cpu_ns - s->cpu_ns) / ((double)wall_ms * 1e6 * row->cpu_count) * 100.0;
        if (pct > 100.0)
                pct = 100.0;
        s->cpu_ns = u.cpu_ns;
        s->last_mono_ms = now;

        if (!s->disk_mono_ms || now - s->disk_mono_ms >= DISK_EVERY_MS) {
                bool complete = true;

                if (runtime_disk_usage(m->runtime, row->id, (pid_t)row->pid, DISK_MAX_ENTRIES, &s->disk_used, &complete) >= 0 &&
                    !complete)
                        log_debug("sandbox=%s: disk use counted over its first %u entries only", row->id,
                                  DISK_MAX_ENTRIES);
                s->disk_mono_ms = now;
        }

        p = &s->ring[(s->first + s->n) % METRICS_KEEP];
        if (s->n == METRICS_KEEP)
                s->first = (s->first + 1) % METRICS_KEEP;
        else
                s->n++;
        *p = (struct point){
                .at_ms = clock_realtime_ms(),
                .cpu_pct = (double)(int64_t)(pct * 100 + 0.5) / 100,
                .cpu_count = row->cpu_count,
                /* Reclaimable cache is not "used", as `free` and E2B's in-VM numbers see it. */
                .mem_used = u.memory_bytes > u.memory_inactive_file ? u.memory_bytes - u.memory_inactive_file : 0,
                .mem_total = (uint64_t)row->memory_mb << 20,
                .mem_cache = u.memory_cache,
                .disk_used = s->disk_used,
                .disk_total = (uint64_t)row->disk_mb << 20,
        };
        return 0;
}

static bool due(const struct series *s, const struct catalog_sandbox *row, int64_t now_mono)
{
        if (!s->last_mono_ms)
                return clock_realtime_ms() - row->started_at >= METRICS_FIRST_AFTER_MS;
        return now_mono - s->last_mono_ms >= METRICS_EVERY_MS;
}

static void tick(void *userdata)
{
        struct metrics *m = userdata;
        struct catalog_sandbox **rows = NULL;
        size_t n = 0;
        int64_t now = clock_monotonic_ms();

        if (catalog_sandbox_list_all(m->catalog, &rows, &n, NULL) < 0)
                return;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++)
                m->series[i]->seen = false;
        for (size_t i = 0; i < n; i++) {
                struct series *s = find_or_add_locked(m, rows[i]->id);
                bool running = rows[i]->state && strcmp(rows[i]->state, "running") == 0;

                if (!s)
                        break; /* out of memory: try again next tick */
                s->seen = true;
                if (running && due(s, rows[i], now))
                        (void)sample_locked(m, s, rows[i]);
                else if (!running)
                        s->last_mono_ms = 0; /* frozen: start the cpu interval afresh on resume */
        }
        /* Series of sandboxes that are gone. */
        for (size_t i = 0; i < m->n;) {
                if (m->series[i]->seen) {
                        i++;
                        continue;
                }
                series_free(m->series[i]);
                m->series[i] = m->series[--m->n];
        }
        pthread_mutex_unlock(&m->lock);
        for (size_t i = 0; i < n; i++)
                catalog_sandbox_free(rows[i]);
        free(rows);
}

int metrics_start(struct catalog *c, struct runtime *rt, struct metrics **ret)
{
        struct metrics *m = calloc(1, sizeof(*m));
        int r;

        if (!m)
                return -ENOMEM;
        m->catalog = c;
        m->runtime = rt;
        pthread_mutex_init(&m->lock, NULL);
        r = ticker_start(METRICS_TICK_MS, tick, m, &m->sampler);
        if (r < 0) {
                pthread_mutex_destroy(&m->lock);
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

struct metrics *metrics_stop(struct metrics *m)
{
        if (!m)
                return NULL;
        ticker_stop(m->sampler);
        for (size_t i = 0; i < m->n; i++)
                series_free(m->series[i]);
        free(m->series);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

static json_t *point_json(const struct point *p)
{
        char when[64];
        time_t secs = (time_t)(p->at_ms / 1000);
        struct tm tm;

        gmtime_r(&secs, &tm);
        snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(p->at_ms % 1000));
        return json_pack("{s:s, s:I, s:i, s:f, s:I, s:I, s:I, s:I, s:I}", "timestamp", when, "timestampUnix",
                         (json_int_t)(p->at_ms / 1000), "cpuCount", (int)p->cpu_count, "cpuUsedPct", p->cpu_pct,
                         "memUsed", (json_int_t)p->mem_used, "memTotal", (json_int_t)p->mem_total, "memCache",
                         (json_int_t)p->mem_cache, "diskUsed", (json_int_t)p->disk_used, "diskTotal",
                         (json_int_t)p->disk_total);
}

/* A sandbox created less than a tick ago has no series yet: sample it now, so a
 * caller right after create sees where it stands. */
static void sample_now_locked(struct metrics *m, const char *id)
{
        struct catalog_sandbox *row = NULL;
        struct series *s;

        if (catalog_sandbox_get(m->catalog, id, &row, NULL) < 0)
                return;
        if (row->state && strcmp(row->state, "running") == 0 && (s = find_or_add_locked(m, id))) {
                s->seen = true;
                (void)sample_locked(m, s, row);
        }
        catalog_sandbox_free(row);
}

int metrics_query(struct metrics *m, const char *id, int64_t start_s, int64_t end_s, json_t *array)
{
        struct series *s;
        int r = 0;

        pthread_mutex_lock(&m->lock);
        s = find_locked(m, id);
        if (!s || s->n == 0) {
                sample_now_locked(m, id);
                s = find_locked(m, id);
        }
        for (size_t i = 0; s && i < s->n && r == 0; i++) {
                const struct point *p = &s->ring[(s->first + i) % METRICS_KEEP];
                int64_t at = p->at_ms / 1000;

                if (at < start_s || at > end_s)
                        continue;
                if (json_array_append_new(array, point_json(p)) < 0)
                        r = -ENOMEM;
        }
        pthread_mutex_unlock(&m->lock);
        return r;
}

json_t *metrics_latest(struct metrics *m, const char *id)
{
        struct series *s;
        json_t *o = NULL;

        pthread_mutex_lock(&m->lock);
        s = find_locked(m, id);
        if (!s || s->n == 0) {
                sample_now_locked(m, id);
                s = find_locked(m, id);
        }
        if (s && s->n > 0)
                o = point_json(&s->ring[(s->first + s->n - 1) % METRICS_KEEP]);
        pthread_mutex_unlock(&m->lock);
        return o;
}
