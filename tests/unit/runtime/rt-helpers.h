/* Helpers shared by the runtime tests and bench-create: a busybox template and a client
 * for the test probe's one-line protocol (see probe.c). */
#pragma once

#include <stddef.h>

#include "runtime.h"

struct rt_fixture {
        char root[64]; /* mkdtemp dir holding everything below */
        char base_layer[128];
        char top_layer[128];
        char state_dir[128];
        const char *layers[3]; /* top, base, NULL */
};

/** Builds the template (busybox base layer + a small top layer) and the state dir. */
int rt_fixture_setup(struct rt_fixture *f);
void rt_fixture_teardown(struct rt_fixture *f);

/** Runs cmd in the sandbox through the probe; the output (without the trailer) goes to
 *  out. Returns the command's exit status (128+signal when killed) or -errno. */
int rt_run(struct runtime_sandbox *sb, const char *cmd, char *out, size_t size);

/** Sends cmd and returns the connected fd without reading (for freeze tests). */
int rt_send(struct runtime_sandbox *sb, const char *cmd);
/** Reads a reply from fd until its trailer; -ETIMEDOUT when none came within timeout_ms. */
int rt_recv(int fd, char *out, size_t size, int timeout_ms);

double rt_now_ms(void);
