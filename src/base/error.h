/* nb_error: an errno-style code plus a message a person can act on.
 * Functions return int (>= 0 ok, -errno on failure) and, where a person reads
 * the failure, take `struct nb_error *err` last. The struct lives on the
 * caller's stack, so failing never allocates. */
#pragma once

#include "macro.h"

struct nb_error {
        int code;          /* negative errno, 0 when unset */
        char message[256]; /* NUL-terminated, truncated if longer */
};

/** Sets err (if non-NULL) and returns code, so a failure is one line:
 *  `return nb_error_set(err, -ENOENT, "template '%.64s' not found", name);` */
int nb_error_set(struct nb_error *err, int code, const char *fmt, ...) _printf_(3, 4);

/** Like nb_error_set but appends ": <strerror(-code)>". */
int nb_error_set_errno(struct nb_error *err, int code, const char *fmt, ...) _printf_(3, 4);

/** Prefixes an existing message with context: "<ctx>: <old message>". Returns err->code. */
int nb_error_prefix(struct nb_error *err, const char *fmt, ...) _printf_(2, 3);

static inline int nb_error_oom(struct nb_error *err)
{
        return nb_error_set(err, -ENOMEM, "out of memory");
}
