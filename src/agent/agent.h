/* The agent's shared state: one struct agent per sandbox (pid 1), reached by
 * every module through the connection or process that needs it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "loop.h"

struct conn;
struct process;

struct agent {
        struct loop *loop;
        bool pid1;

        int listen_fd;
        struct loop_io listen_io;
        struct loop_timer listen_retry;
        bool accept_failing;
        int signal_fd;
        struct loop_io signal_io;

        /* Set by POST /init (protocol.md §4.5); may change on resume. */
        json_t *env_vars;      /* object of strings: the sandbox's default env */
        char *access_token;    /* NULL: no X-Access-Token check */
        char *default_user;    /* NULL: "user" if it exists, else "root" */
        char *default_workdir; /* NULL: the user's home */

        /* Where users are resolved (tests point these elsewhere). */
        const char *passwd_path;
        const char *group_path;

        struct process *processes; /* running first, then ended (retained) ones */
        size_t n_ended;
        struct conn *conns;
        size_t n_conns;
};

/** Frees connections marked dead and prunes old retained processes; runs after
 *  every dispatch round so no callback frees an object its caller still uses. */
void agent_post(void *userdata);
