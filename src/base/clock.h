/* Milliseconds from the two clocks the daemon uses: wall time for what is stored
 * or shown (start and end times, sample times), monotonic time for intervals. */
#pragma once

#include <stdint.h>
#include <time.h>

static inline int64_t clock_realtime_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t clock_monotonic_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC `ms` from now, as pthread_cond_timedwait wants it (for a condition
 * whose clock attribute is CLOCK_MONOTONIC). */
static inline struct timespec clock_monotonic_after_ms(int64_t ms)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        ts.tv_sec += (time_t)(ms / 1000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        return ts;
}
