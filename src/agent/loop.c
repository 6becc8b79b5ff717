/* epoll + a short unsorted timer list. The agent has a handful of timers
 * (keepalives, deadlines, retention), so a linear scan for the earliest one
 * is cheaper in memory and code than a heap. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>

#include "log.h"
#include "macro.h"

#define LOOP_BATCH 16

struct loop {
        int epoll_fd;
        bool quit;
        int exit_code;
        struct loop_timer *timers;
        loop_post_fn post;
        void *post_userdata;
        /* The batch being dispatched: loop_io_del() clears entries of a removed io. */
        struct epoll_event batch[LOOP_BATCH];
        int batch_n, batch_i;
};

uint64_t loop_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int loop_new(struct loop **ret)
{
        struct loop *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epoll_fd < 0) {
                int r = -errno;
                free(l);
                return r;
        }
        *ret = l;
        return 0;
}

struct loop *loop_free(struct loop *l)
{
        if (!l)
                return NULL;
        safe_close(l->epoll_fd);
        free(l);
        return NULL;
}

int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn, void *userdata)
{
        struct epoll_event ev = {.events = events, .data.ptr = io};

        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return -errno;
        *io = (struct loop_io){.loop = l, .fd = fd, .events = events, .fn = fn, .userdata = userdata};
        return 0;
}

int loop_io_set_events(struct loop_io *io, uint32_t events)
{
        struct epoll_event ev = {.events = events, .data.ptr = io};

        if (!io->loop || io->fd < 0 || io->events == events)
                return 0;
        if (epoll_ctl(io->loop->epoll_fd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
                return -errno;
        io->events = events;
        return 0;
}

void loop_io_del(struct loop_io *io)
{
        struct loop *l = io->loop;

        if (!l || io->fd < 0)
                return;
        /* EBADF/ENOENT here means the fd was closed already: epoll dropped it itself. */
        (void)epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, io->fd, NULL);
        for (int i = l->batch_i; i < l->batch_n; i++)
                if (l->batch[i].data.ptr == io)
                        l->batch[i].data.ptr = NULL;
        io->fd = -EBADF;
        io->loop = NULL;
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t when, loop_timer_fn fn, void *userdata)
{
        loop_timer_disarm(t);
        t->loop = l;
        t->when = when;
        t->fn = fn;
        t->userdata = userdata;
        t->prev = NULL;
        t->next = l->timers;
        if (l->timers)
                l->timers->prev = t;
        l->timers = t;
        t->armed = true;
}

void loop_timer_disarm(struct loop_timer *t)
{
        if (!t->armed)
                return;
        if (t->prev)
                t->prev->next = t->next;
        else
                t->loop->timers = t->next;
        if (t->next)
                t->next->prev = t->prev;
        t->prev = t->next = NULL;
        t->armed = false;
}

void loop_set_post(struct loop *l, loop_post_fn fn, void *userdata)
{
        l->post = fn;
        l->post_userdata = userdata;
}

void loop_quit(struct loop *l, int code)
{
        l->quit = true;
        l->exit_code = code;
}

static int loop_timeout_ms(struct loop *l)
{
        uint64_t now, first = UINT64_MAX;

        for (struct loop_timer *t = l->timers; t; t = t->next)
                if (t->when < first)
                        first = t->when;
        if (first == UINT64_MAX)
                return -1;
        now = loop_now();
        if (first <= now)
                return 0;
        /* Round up so a timer never fires a little early and forces a busy retry. */
        return (int)((first - now + 999) / 1000 > 3600000 ? 3600000 : (first - now + 999) / 1000);
}

static void loop_fire_timers(struct loop *l)
{
        uint64_t now = loop_now();
        bool fired;

        /* Restart the scan after each callback: it may arm or disarm any timer. */
        do {
                fired = false;
                for (struct loop_timer *t = l->timers; t; t = t->next)
                        if (t->when <= now) {
                                loop_timer_disarm(t);
                                t->fn(t);
                                fired = true;
                                break;
                        }
        } while (fired && !l->quit);
}

int loop_run(struct loop *l)
{
        while (!l->quit) {
                int n = epoll_wait(l->epoll_fd, l->batch, LOOP_BATCH, loop_timeout_ms(l));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(-errno, "epoll_wait failed: %m");
                }
                l->batch_n = n;
                for (l->batch_i = 0; l->batch_i < l->batch_n && !l->quit; l->batch_i++) {
                        struct epoll_event *ev = &l->batch[l->batch_i];
                        struct loop_io *io = ev->data.ptr;

                        if (!io)
                                continue; /* removed by an earlier callback of this batch */
                        ev->data.ptr = NULL;
                        io->fn(io, ev->events);
                }
                l->batch_n = l->batch_i = 0;
                if (!l->quit)
                        loop_fire_timers(l);
                if (l->post)
                        l->post(l->post_userdata);
        }
        return l->exit_code;
}
