/* A thread that calls one function every interval, for the daemon's periodic work
 * (end times, metrics samples). Stopping wakes it at once and joins it. */
#pragma once

struct ticker;

/** Starts a thread calling tick(userdata) now and then every interval_ms after the
 *  previous call returned. -errno when the thread cannot start. */
int ticker_start(unsigned interval_ms, void (*tick)(void *userdata), void *userdata, struct ticker **ret);
/** Stops and joins the thread; a tick in progress finishes first. Accepts NULL. */
struct ticker *ticker_stop(struct ticker *t);
