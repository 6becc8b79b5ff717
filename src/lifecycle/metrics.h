/* Sandbox metrics as E2B reports them (GET /sandboxes/{id}/metrics): one sample of
 * cpu, memory and disk per sandbox every 5 s, the first about a second after it
 * starts, kept in memory for the last hour. A sampler thread reads the catalog for
 * the running sandboxes and the runtime for their cgroups, by id only, so nothing it
 * does can race with kill. Paused sandboxes keep their history and get no samples. */
#pragma once

#include <stdint.h>

#include <jansson.h>

struct catalog;
struct runtime;
struct metrics;

int metrics_start(struct catalog *c, struct runtime *rt, struct metrics **ret);
struct metrics *metrics_stop(struct metrics *m);

/** Appends to `array` E2B's SandboxMetric objects of sandbox id whose time (unix
 *  seconds) lies in [start_s, end_s], oldest first. A running sandbox that has no
 *  sample yet is sampled now. */
int metrics_query(struct metrics *m, const char *id, int64_t start_s, int64_t end_s, json_t *array);

/** E2B's SandboxMetric of the newest sample of id (new reference), or NULL when none. */
json_t *metrics_latest(struct metrics *m, const char *id);
