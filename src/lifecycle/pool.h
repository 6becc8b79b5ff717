/* The warm pool: a few sandboxes per template started ahead of time, so that
 * create only claims one and records it in the catalog (DESIGN.md: "a warm pool of
 * ready sandboxes per template is what makes create fast"). A warm sandbox's agent
 * has had its /init with the template's settings; a claim calls /init again only
 * for what the request adds (env vars, an access token).
 *
 * Warm sandboxes have no catalog row; they hold uid slots from their own range
 * [POOL_SLOT_FIRST, POOL_SLOT_END) so cold creates, which take the smallest free
 * slot below POOL_SLOT_FIRST, can never collide with them. A daemon that dies
 * leaves them behind as sandbox dirs without a row; the next start removes them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../base/error.h"

#define POOL_SLOT_FIRST 2000u
#define POOL_SLOT_END 3800u /* keeps uid_base + 65536 below 2^32 */

struct catalog_sandbox;
struct manager;
struct pool;
struct runtime_sandbox;

/** Starts the filler thread keeping per_template warm sandboxes of every template. */
int pool_start(struct manager *m, unsigned per_template, struct pool **ret);
/** Stops the filler and destroys every warm sandbox. Accepts NULL; returns NULL. */
struct pool *pool_free(struct pool *p);

/** Claims a warm sandbox of template_id: sets row->id, row->uid_slot, row->pid and
 *  row->pid_starttime, inserts the row, copies the id to ret_id and hands over the runtime
 *  handle. Its agent already has the template's settings. Returns 1 when claimed, 0 when
 *  the pool had none (or p is NULL), < 0 on failure. */
int pool_claim(struct pool *p, const char *template_id, struct catalog_sandbox *row, char *ret_id,
               size_t id_size, struct runtime_sandbox **ret_rt, struct nb_error *err);
