/* struct daemon: what one `nestbox serve` process holds. Created by cli/serve.c,
 * shared read-only by the router, the API handlers and the lifecycle thread. */
#pragma once

#include <stdbool.h>

struct catalog;
struct runtime;
struct manager;
struct metrics;

struct daemon {
        struct catalog *catalog;
        struct runtime *runtime;
        struct manager *manager;
        struct metrics *metrics;
        const char *state_dir;
        const char *listen;    /* "127.0.0.1:3000" as given */
        const char *domain;    /* --domain: sandboxes' hosts are <port>-<id>.<domain>; NULL = none */
        char public_url[256];  /* http://host:port, used in messages */
};
