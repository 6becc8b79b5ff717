/* Small language helpers shared by every module: cleanup attributes, ownership
 * transfer and array sizing. Only libc here. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Closes an fd unless it is negative; keeps errno intact so callers may read it after cleanup. */
static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd)
{
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Hands ownership out of a cleanup variable. */
#define TAKE_PTR(p)                                                                                              \
        ({                                                                                                       \
                __typeof__(p) _p = (p);                                                                          \
                (p) = NULL;                                                                                      \
                _p;                                                                                              \
        })
#define TAKE_FD(fd)                                                                                              \
        ({                                                                                                       \
                int _fd = (fd);                                                                                  \
                (fd) = -EBADF;                                                                                   \
                _fd;                                                                                             \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                                  \
        static inline void func##p(type *p)                                                                      \
        {                                                                                                        \
                if (*p)                                                                                          \
                        func(*p);                                                                                \
        }
