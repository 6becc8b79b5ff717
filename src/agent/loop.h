/* A single-threaded epoll loop with monotonic timers: the agent's only
 * scheduler. fd sources and timers are embedded in their owners (no
 * allocation per registration), so idle memory stays flat. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_io;
struct loop_timer;

typedef void (*loop_io_fn)(struct loop_io *io, uint32_t events);
typedef void (*loop_timer_fn)(struct loop_timer *t);
typedef void (*loop_post_fn)(void *userdata);

/** An fd watched by the loop; embed it in its owner and use container_of-style
 *  access through userdata. fd < 0 means "not registered". */
struct loop_io {
        struct loop *loop;
        int fd;
        uint32_t events;
        loop_io_fn fn;
        void *userdata;
};

/** A one-shot timer on CLOCK_MONOTONIC (microseconds). */
struct loop_timer {
        struct loop *loop;
        uint64_t when;
        loop_timer_fn fn;
        void *userdata;
        struct loop_timer *prev, *next;
        bool armed;
};

/** Creates the loop (an epoll fd). */
int loop_new(struct loop **ret);
/** Frees the loop; sources must have been removed by their owners. NULL is fine. */
struct loop *loop_free(struct loop *l);

/** Registers fd for events (EPOLLIN/EPOLLOUT/...). The loop does not own fd. */
int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn, void *userdata);
/** Changes the watched events; a no-op when they are unchanged. */
int loop_io_set_events(struct loop_io *io, uint32_t events);
/** Unregisters io (safe on an unregistered one). Pending events for it in the
 *  current dispatch batch are dropped, so its owner may be freed right after. */
void loop_io_del(struct loop_io *io);

/** Arms (or re-arms) t to fire at `when` (loop_now() based). */
void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t when, loop_timer_fn fn, void *userdata);
void loop_timer_disarm(struct loop_timer *t);

/** Runs fn(userdata) after every dispatch round (deferred frees live here). */
void loop_set_post(struct loop *l, loop_post_fn fn, void *userdata);

/** CLOCK_MONOTONIC in microseconds. */
uint64_t loop_now(void);

/** Dispatches until loop_quit(); returns the code given to it. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l, int code);
