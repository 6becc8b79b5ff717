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
