/* A timer thread rather than per-sandbox timers: one catalog query per tick
 * covers every sandbox, including those re-adopted after a restart. */
#include "reaper.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "manager.h"

struct reaper {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stop;
        unsigned interval_ms;
        struct manager *m;
};

static void *reaper_main(void *arg)
{
        struct reaper *r = arg;

        pthread_mutex_lock(&r->lock);
        while (!r->stop) {
                struct timespec until;

                pthread_mutex_unlock(&r->lock);
                (void)manager_reap_expired(r->m);
                pthread_mutex_lock(&r->lock);
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_nsec += (long)(r->interval_ms % 1000) * 1000000L;
                until.tv_sec += r->interval_ms / 1000 + until.tv_nsec / 1000000000L;
                until.tv_nsec %= 1000000000L;
                while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
                        ;
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

int reaper_start(struct manager *m, unsigned interval_ms, struct reaper **ret)
{
        struct reaper *r = calloc(1, sizeof(*r));
        pthread_condattr_t attr;
        int k;

        if (!r)
                return -ENOMEM;
        r->m = m;
        r->interval_ms = interval_ms;
        pthread_mutex_init(&r->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&r->wake, &attr);
        pthread_condattr_destroy(&attr);
        k = pthread_create(&r->thread, NULL, reaper_main, r);
        if (k != 0) {
                pthread_cond_destroy(&r->wake);
                pthread_mutex_destroy(&r->lock);
                free(r);
                return -k;
        }
        *ret = r;
        return 0;
}

struct reaper *reaper_stop(struct reaper *r)
{
        if (!r)
                return NULL;
        pthread_mutex_lock(&r->lock);
        r->stop = true;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
}
