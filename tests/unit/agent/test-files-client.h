/* Helpers of the filesystem-service tests: a throw-away sandbox root (with its
 * own /etc/passwd, a user `user` 1000:1000 and /home/user), a directory
 * outside it that must never change, and requests to an agent pointed at that
 * root through NESTBOX_AGENT_ROOT. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent-client.h"
#include "buf.h"

struct froot {
        char root[128];    /* the sandbox root */
        char outside[128]; /* a host directory next to it, with a file "secret" */
};

/** Creates both directories and the root's etc/passwd, etc/group, home/user, root, tmp. */
int froot_setup(struct froot *r);
/** Removes both (unmounting nothing: tests unmount what they mount). */
void froot_teardown(struct froot *r);
/** "<root><p>" in a static rotating buffer (8 slots). */
const char *rp(const struct froot *r, const char *p);
/** True when the outside directory holds exactly the file "secret" with "host data\n". */
bool outside_untouched(const struct froot *r);

/** Starts binary with NESTBOX_AGENT_ROOT=r->root and the root's passwd/group, and waits for /health. */
int fagent_start(const char *binary, const struct froot *r, struct agent_proc *ret);

/** A unary filesystem RPC (JSON). user: Basic auth name or NULL. Returns the body (malloc'd). */
char *fs_call(const struct agent_proc *a, const char *method, const char *json, const char *user, int *ret_status);

/** One HTTP-like exchange with a query: query and headers are "k", "v", ..., NULL lists (may be
 *  NULL). The body goes in frames of `chunk` bytes (0: one frame). Response body in *out, head
 *  in *ret_head (may be NULL). Returns the status or < 0. */
int http_call(const struct agent_proc *a, const char *method, const char *path, const char *const *query,
              const char *const *headers, const void *body, size_t n, size_t chunk, struct buf *out,
              json_t **ret_head);

/** Connects and sends HEAD with a query (no body, no END). */
int http_open(const struct agent_proc *a, const char *method, const char *path, const char *const *query,
              const char *const *headers, struct exch *ret);

/** Writes n bytes to path (creating it 0644), chowned to uid:gid when uid >= 0. */
void put_file(const char *path, const void *data, size_t n, int uid, int gid);
/** Reads a whole file (malloc'd, NUL-terminated); *ret_n gets its size. NULL if missing. */
char *get_file(const char *path, size_t *ret_n);
/** gzip of p[0..n) (one member). */
void gzip_bytes(const void *p, size_t n, struct buf *out);
/** VmRSS of pid in KiB. */
long rss_kib(int pid);
