/* stderr logger. A single write(2) per line keeps lines from different threads whole. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level max_level = LOG_LEVEL_INFO;
static const char *ident = "nestbox";
static unsigned long long file_limit, file_written;

void log_set_level(enum log_level level)
{
        max_level = level;
}

enum log_level log_get_level(void)
{
        return max_level;
}

void log_set_ident(const char *name)
{
        ident = name;
}

void log_set_file_limit(unsigned long long max_bytes)
{
        file_limit = max_bytes;
        file_written = 0;
}

/* The count is per process and approximate across threads: the bound is about
 * disk use, not exactness. Lines before the start (an older agent's) count once
 * the first truncation has happened. */
static void log_bound(size_t n)
{
        if (!file_limit)
                return;
        file_written += n;
        if (file_written < file_limit)
                return;
        file_written = 0;
        (void)!ftruncate(STDERR_FILENO, 0); /* O_APPEND: the next line goes to offset 0 */
}

int log_full_errno(enum log_level level, int r, const char *fmt, ...)
{
        static const char *const names[] = {"error", "warning", "info", "debug"};
        char line[2048];
        int saved_errno = errno;
        struct timespec ts;
        struct tm tm;
        va_list ap;
        int n;

        if (level > max_level)
                return r;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, ident,
                     names[level]);
        /* %m must show the error we were given, not whatever errno happens to hold. */
        errno = r < 0 ? -r : (r > 0 ? r : saved_errno);
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof(line))
                n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        if (n < 0)
                return r;
        if ((size_t)n >= sizeof(line) - 1)
                n = sizeof(line) - 2;
        line[n++] = '\n';
        (void)!write(STDERR_FILENO, line, n);
        log_bound((size_t)n);
        errno = saved_errno;
        return r;
}
