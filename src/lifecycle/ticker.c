/* ticker: a condition variable on the monotonic clock, so a stop request ends the
 * wait at once and wall-clock jumps do not stretch or shrink intervals. */
#include "ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "../base/clock.h"

struct ticker {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stop;
        unsigned interval_ms;
        void (*tick)(void *userdata);
        void *userdata;
};

static void *ticker_main(void *arg)
{
        struct ticker *t = arg;

        pthread_mutex_lock(&t->lock);
        while (!t->stop) {
                struct timespec until;

                pthread_mutex_unlock(&t->lock);
                t->tick(t->userdata);
                pthread_mutex_lock(&t->lock);
                until = clock_monotonic_after_ms(t->interval_ms);
                while (!t->stop && pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT)
                        ;
        }
        pthread_mutex_unlock(&t->lock);
        return NULL;
}

int ticker_start(unsigned interval_ms, void (*tick)(void *userdata), void *userdata, struct ticker **ret)
{
        struct ticker *t = calloc(1, sizeof(*t));
        pthread_condattr_t attr;
        int k;

        if (!t)
                return -ENOMEM;
        t->interval_ms = interval_ms;
        t->tick = tick;
        t->userdata = userdata;
        pthread_mutex_init(&t->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&t->wake, &attr);
        pthread_condattr_destroy(&attr);
        k = pthread_create(&t->thread, NULL, ticker_main, t);
        if (k != 0) {
                pthread_cond_destroy(&t->wake);
                pthread_mutex_destroy(&t->lock);
                free(t);
                return -k;
        }
        *ret = t;
        return 0;
}

struct ticker *ticker_stop(struct ticker *t)
{
        if (!t)
                return NULL;
        pthread_mutex_lock(&t->lock);
        t->stop = true;
        pthread_cond_signal(&t->wake);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
}
