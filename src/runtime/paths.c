/* Path strings for the runtime's host-side directories. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-internal.h"

char *path_join(const char *dir, const char *name)
{
        size_t n = strlen(dir) + 1 + strlen(name) + 1;
        char *p = malloc(n);

        if (p)
                snprintf(p, n, "%s/%s", dir, name);
        return p;
}
