/* The sandbox manager: the one place that turns "create / kill / extend a
 * sandbox" into catalog rows, runtime calls and the agent's /init. It keeps
 * the live sandboxes in memory (id -> runtime handle) so the router can reach
 * an agent without touching the catalog on the hot path. Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../base/error.h"

struct catalog;
struct runtime;
struct runtime_sandbox;
struct json_t;

struct manager;

/* Sandbox ids: this many random letters and digits, like E2B's. */
#define MANAGER_SANDBOX_ID_LEN 20

/* What a create request asks for (already validated by the API layer). */
struct create_request {
        const char *template_ref;     /* id or alias */
        int64_t timeout_s;            /* lifetime from now */
        const char *metadata_json;    /* JSON object text, "{}" when none */
        const char *envs_json;        /* JSON object text, "{}" when none */
        bool secure;                  /* issue an envd access token */
        bool auto_pause;
        int allow_internet_access;    /* -1 unset, 0, 1 */
        const char *network_json;     /* JSON text or NULL */
        const char *lifecycle_json;   /* JSON text or NULL */
};

/* A live sandbox as the router and the API see it. Reference-counted: hold a
 * reference while using it; the runtime handle stays valid until the last one. */
struct live_sandbox;

int manager_new(struct catalog *c, struct runtime *rt, struct manager **ret, struct nb_error *err);
struct manager *manager_free(struct manager *m);

/** Re-adopts every sandbox the catalog lists (after a daemon restart) and cleans up
 *  those whose processes are gone. Logs what it did. */
int manager_adopt_all(struct manager *m);

/** Creates and starts a sandbox; on success *ret_id (malloc'ed) names it. Errors: -ENOENT
 *  unknown template, -EINVAL bad request, others internal (err says what). */
int manager_create(struct manager *m, const struct create_request *req, char **ret_id, struct nb_error *err);

/** Freezes every process of a sandbox and marks it paused. -ENOENT unknown, -EALREADY paused. */
int manager_pause(struct manager *m, const char *id, struct nb_error *err);
/** Thaws a paused sandbox with a new lifetime of timeout_s. Returns 1 when it was paused,
 *  0 when it was already running (nothing changed), -ENOENT when unknown. */
int manager_resume(struct manager *m, const char *id, int64_t timeout_s, struct nb_error *err);

/** Kills a sandbox and forgets it. -ENOENT when unknown. */
int manager_kill(struct manager *m, const char *id, struct nb_error *err);

/** Replaces a sandbox's egress rules (PUT /sandboxes/{id}/network): allowOut, denyOut,
 *  egressProxy and rules from update (absent: cleared), allow_internet_access (-1 unset,
 *  0, 1); enforced and stored, a paused sandbox's too. -ENOENT when unknown, -EINVAL with
 *  a message for the client when it asks for what nestbox does not enforce. */
int manager_update_network(struct manager *m, const char *id, int allow_internet_access,
                           const struct json_t *update, struct nb_error *err);

/** Sets the end time to now + timeout_s. With only_extend, never shortens it. -ENOENT when unknown. */
int manager_set_timeout(struct manager *m, const char *id, int64_t timeout_s, bool only_extend, struct nb_error *err);

/** Kills every sandbox whose end time has passed; returns how many. */
int manager_reap_expired(struct manager *m);

/** Looks up a live sandbox and takes a reference; NULL when unknown or dead. */
struct live_sandbox *manager_get(struct manager *m, const char *id);
void live_sandbox_unref(struct live_sandbox *s);
const char *live_sandbox_access_token(const struct live_sandbox *s); /* NULL when not secure */
const char *live_sandbox_id(const struct live_sandbox *s);
/** 0 when traffic may reach the sandbox: running, or paused with autoResume (then resumed
 *  here). -EAGAIN when it is paused. */
int live_sandbox_ready(struct live_sandbox *s, struct nb_error *err);
/** Opens a new link connection to the sandbox's agent (SOCK_CLOEXEC); caller closes it. */
int live_sandbox_connect_agent(const struct live_sandbox *s, struct nb_error *err);
/** False when the sandbox was created with network.allowPublicTraffic false: E2B then asks
 *  for a traffic access token, which nestbox does not issue yet, so its ports stay closed. */
bool live_sandbox_ports_public(const struct live_sandbox *s);
/** Connects to TCP `port` on the loopback of the sandbox's own network namespace, waiting
 *  at most timeout_ms; safe while a kill runs (the namespace fd is the live sandbox's own).
 *  Returns a blocking SOCK_CLOEXEC socket the caller closes; -ECONNREFUSED when nothing
 *  listens there, -ETIMEDOUT. */
int live_sandbox_connect_port(const struct live_sandbox *s, uint16_t port, int timeout_ms, struct nb_error *err);

/** Keeps per_template warm sandboxes of every template (0 = no pool). Call once, after
 *  manager_adopt_all(). */
int manager_start_pool(struct manager *m, unsigned per_template);

/* For the pool: start a sandbox of template t with this id and uid slot (no catalog row),
 * with a way out to the network when internet is true (and the host has a network). */
struct catalog_template;
int manager_spawn(struct manager *m, const struct catalog_template *t, const char *id, uint32_t slot,
                  bool internet, struct runtime_sandbox **ret, struct nb_error *err);
/* The agent's /init: t's env vars, default user and workdir unless t is NULL, then
 * envs_json's vars (NULL: none) over them, and access_token unless it is NULL. */
int manager_init_agent(struct runtime_sandbox *rt, const struct catalog_template *t,
                       const char *envs_json, const char *access_token, struct nb_error *err);
struct catalog *manager_catalog(struct manager *m);
struct runtime *manager_runtime(struct manager *m);

/** Number of live sandboxes. */
unsigned manager_count(struct manager *m);
