/* The lifecycle thread: kills sandboxes at their end time. */
#pragma once

struct manager;
struct reaper;

/** Starts a thread that calls manager_reap_expired() every interval_ms. */
int reaper_start(struct manager *m, unsigned interval_ms, struct reaper **ret);
/** Stops and joins the thread. Accepts NULL. */
struct reaper *reaper_stop(struct reaper *r);
