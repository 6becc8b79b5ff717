/* nb_error helpers: formatting into the fixed-size, caller-owned message. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int nb_error_set(struct nb_error *err, int code, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return code;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return code;
}

int nb_error_set_errno(struct nb_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        size_t n;

        if (!err)
                return code;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        n = strlen(err->message);
        if (n < sizeof(err->message))
                snprintf(err->message + n, sizeof(err->message) - n, ": %s", strerror(code < 0 ? -code : code));
        return code;
}

int nb_error_prefix(struct nb_error *err, const char *fmt, ...)
{
        char joined[128 + 2 + sizeof(err->message)];
        size_t n;
        va_list ap;

        if (!err)
                return 0;
        va_start(ap, fmt);
        vsnprintf(joined, 128, fmt, ap);
        va_end(ap);
        n = strlen(joined);
        memcpy(joined + n, ": ", 2);
        memcpy(joined + n + 2, err->message, sizeof(err->message));
        /* Over-long context is cut, never overflowed. */
        n = strnlen(joined, sizeof(err->message) - 1);
        memcpy(err->message, joined, n);
        err->message[n] = 0;
        return err->code;
}
