/* The sandbox manager (see manager.h). Owns the in-memory table of live
 * sandboxes; the catalog stays the source of truth across restarts.
 *
 * Locking: `lock` guards the table and uid-slot allocation. Slow work (the
 * runtime's create/destroy, the agent's /init) runs outside it. */
#include "manager.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "../base/random.h"
#include "../catalog/catalog.h"
#include "../runtime/runtime.h"
#include "../wire/link-client.h"
#include "egress.h"
#include "pool.h"

#define ACCESS_TOKEN_BYTES 20
#define UID_BASE_FIRST 0x01000000u /* host ids below this stay for the host's own users */
#define DEFAULT_PIDS_MAX 4096u
#define DEFAULT_RESUME_TIMEOUT_S 300 /* E2B's default lifetime for a resumed sandbox */

struct live_sandbox {
        char id[CATALOG_SANDBOX_ID_MAX + 1];
        struct runtime_sandbox *rt;
        char *access_token;
        char socket_path[108]; /* copied so relaying never touches rt, which kill frees */
        int netns_fd;          /* its network namespace, for the same reason; -EBADF if none */
        unsigned refs;   /* guarded by manager.lock */
        pthread_mutex_t state_lock; /* serialises pause and resume of this sandbox */
        bool paused;     /* written under state_lock and manager.lock; its processes are frozen */
        bool auto_resume; /* traffic to a paused sandbox resumes it */
        bool private_ports; /* network.allowPublicTraffic was false */
        uint32_t slot;      /* its uid slot, which is also its address */
        struct manager *m;
};

struct manager {
        pthread_mutex_t lock;
        struct pool *pool;
        struct catalog *catalog;
        struct runtime *runtime;
        struct live_sandbox **table;
        size_t n, cap;
};

int manager_new(struct catalog *c, struct runtime *rt, struct manager **ret, struct nb_error *err)
{
        struct manager *m = calloc(1, sizeof(*m));

        if (!m)
                return nb_error_oom(err);
        pthread_mutex_init(&m->lock, NULL);
        m->catalog = c;
        m->runtime = rt;
        *ret = m;
        return 0;
}

static struct live_sandbox *live_new(struct manager *m)
{
        struct live_sandbox *s = calloc(1, sizeof(*s));

        if (s) {
                s->m = m;
                s->netns_fd = -EBADF;
                pthread_mutex_init(&s->state_lock, NULL);
        }
        return s;
}

static void live_free(struct live_sandbox *s)
{
        pthread_mutex_destroy(&s->state_lock);
        safe_close(s->netns_fd);
        free(s->access_token);
        free(s);
}

struct manager *manager_free(struct manager *m)
{
        if (!m)
                return NULL;
        m->pool = pool_free(m->pool);
        /* The daemon is exiting: sandboxes keep running and are re-adopted by the next one. */
        for (size_t i = 0; i < m->n; i++) {
                runtime_sandbox_forget(m->table[i]->rt);
                live_free(m->table[i]);
        }
        free(m->table);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

static int table_add_locked(struct manager *m, struct live_sandbox *s)
{
        if (m->n == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 64;
                struct live_sandbox **t = realloc(m->table, cap * sizeof(*t));

                if (!t)
                        return -ENOMEM;
                m->table = t;
                m->cap = cap;
        }
        m->table[m->n++] = s;
        s->refs = 1; /* the table's own reference */
        return 0;
}

static struct live_sandbox *table_find_locked(struct manager *m, const char *id, size_t *ret_index)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->table[i]->id, id) == 0) {
                        if (ret_index)
                                *ret_index = i;
                        return m->table[i];
                }
        return NULL;
}

struct live_sandbox *manager_get(struct manager *m, const char *id)
{
        struct live_sandbox *s;

        pthread_mutex_lock(&m->lock);
        s = table_find_locked(m, id, NULL);
        if (s)
                s->refs++;
        pthread_mutex_unlock(&m->lock);
        return s;
}

void live_sandbox_unref(struct live_sandbox *s)
{
        struct manager *m;
        bool last;

        if (!s)
                return;
        m = s->m;
        pthread_mutex_lock(&m->lock);
        last = --s->refs == 0;
        pthread_mutex_unlock(&m->lock);
        if (last)
                live_free(s);
}

const char *live_sandbox_id(const struct live_sandbox *s)
{
        return s->id;
}

const char *live_sandbox_access_token(const struct live_sandbox *s)
{
        return s->access_token;
}

int live_sandbox_connect_agent(const struct live_sandbox *s, struct nb_error *err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int fd;

        memcpy(addr.sun_path, s->socket_path, sizeof(s->socket_path));
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot create a socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int r = -errno;

                close(fd);
                return nb_error_set_errno(err, r, "sandbox=%s agent unreachable", s->id);
        }
        return fd;
}

bool live_sandbox_ports_public(const struct live_sandbox *s)
{
        return !s->private_ports;
}

int live_sandbox_connect_port(const struct live_sandbox *s, uint16_t port, int timeout_ms, struct nb_error *err)
{
        if (s->netns_fd < 0)
                return nb_error_set(err, -ENETUNREACH, "sandbox=%s has no network namespace to dial into", s->id);
        return runtime_netns_connect_loopback(s->netns_fd, port, timeout_ms, err);
}

/* Copies what relaying needs out of rt, which kill frees while requests may still hold s. */
static void live_set_socket(struct live_sandbox *s)
{
        struct nb_error err = {0};
        int fd;

        snprintf(s->socket_path, sizeof(s->socket_path), "%s", runtime_sandbox_socket_path(s->rt));
        fd = runtime_sandbox_open_netns(s->rt, &err);
        if (fd < 0)
                log_warning("sandbox=%s: its ports will not be reachable: %s", s->id, err.message);
        s->netns_fd = fd < 0 ? -EBADF : fd;
}

unsigned manager_count(struct manager *m)
{
        unsigned n;

        pthread_mutex_lock(&m->lock);
        n = (unsigned)m->n;
        pthread_mutex_unlock(&m->lock);
        return n;
}

int manager_init_agent(struct runtime_sandbox *rt, const struct catalog_template *t, const char *envs_json,
                       const char *access_token, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        struct buf reply = {0};
        json_t *init, *envs, *more;
        char *text;
        int status = 0, r;

        envs = json_object();
        more = t && t->envs_json ? json_loads(t->envs_json, 0, NULL) : NULL;
        if (json_is_object(more))
                json_object_update(envs, more);
        json_decref(more);
        more = envs_json ? json_loads(envs_json, 0, NULL) : NULL;
        if (json_is_object(more))
                json_object_update(envs, more); /* the request's vars win over the template's */
        json_decref(more);
        init = json_pack("{s:o}", "envVars", envs);
        if (t && t->default_user)
                json_object_set_new(init, "defaultUser", json_string(t->default_user));
        if (t && t->default_workdir)
                json_object_set_new(init, "defaultWorkdir", json_string(t->default_workdir));
        if (access_token)
                json_object_set_new(init, "accessToken", json_string(access_token));
        text = json_dumps(init, JSON_COMPACT);
        json_decref(init);
        if (!text)
                return nb_error_oom(err);

        fd = runtime_sandbox_connect_agent(rt, err);
        if (fd < 0) {
                free(text);
                return fd;
        }
        r = link_call(fd, "POST", "/init", "application/json", text, strlen(text), &status, &reply);
        free(text);
        buf_done(&reply);
        if (r < 0)
                return nb_error_set_errno(err, r, "the sandbox's agent did not answer its start-up call");
        if (status != 204 && status != 200)
                return nb_error_set(err, -EPROTO, "the sandbox's agent refused its start-up call (HTTP %d)", status);
        return 0;
}

/* envs_json is "{}" when the request has none, but any empty object means the same. */
static bool envs_empty(const char *envs_json)
{
        json_t *v;
        bool empty;

        if (!envs_json || strcmp(envs_json, "{}") == 0)
                return true;
        v = json_loads(envs_json, 0, NULL);
        empty = !json_is_object(v) || json_object_size(v) == 0;
        json_decref(v);
        return empty;
}

/* autoResume arrives as {"enabled": bool} (protocol.md §2.4). */
/* network.allowPublicTraffic (protocol.md §2.4): absent means true. */
static bool network_private_ports(const char *network_json)
{
        json_t *v = network_json ? json_loads(network_json, 0, NULL) : NULL;
        bool private_ports = json_is_false(json_object_get(v, "allowPublicTraffic"));

        json_decref(v);
        return private_ports;
}

static bool lifecycle_auto_resume(const char *lifecycle_json)
{
        json_t *v = lifecycle_json ? json_loads(lifecycle_json, 0, NULL) : NULL;
        bool on = json_is_true(json_object_get(v, "enabled"));

        json_decref(v);
        return on;
}

int manager_spawn(struct manager *m, const struct catalog_template *t, const char *id, uint32_t slot,
                  bool internet, struct runtime_sandbox **ret, struct nb_error *err)
{
        json_t *layers_json = json_loads(t->layers_json ? t->layers_json : "[]", 0, NULL);
        size_t n = json_array_size(layers_json);
        const char **layers = NULL;
        int r;

        if (n == 0 || !(layers = calloc(n + 1, sizeof(*layers)))) {
                json_decref(layers_json);
                return n == 0 ? nb_error_set(err, -EIO, "template '%.64s' has no usable layers; rebuild it", t->name)
                              : nb_error_oom(err);
        }
        for (size_t i = 0; i < n; i++)
                if (!(layers[i] = json_string_value(json_array_get(layers_json, i)))) {
                        free(layers);
                        json_decref(layers_json);
                        return nb_error_set(err, -EIO, "template '%.64s' has a broken layer list", t->name);
                }
        {
                struct sandbox_spec spec = {
                        .id = id,
                        .hostname = "e2b.local",
                        .layers = layers,
                        .uid_base = UID_BASE_FIRST + slot * RUNTIME_UID_RANGE,
                        .cpu_count = t->cpu_count,
                        .memory_mb = t->memory_mb,
                        .pids_max = DEFAULT_PIDS_MAX,
                        .disk_mb = t->disk_mb,
                        .no_new_privs = t->no_new_privs,
                        .network = internet,
                        .net_index = slot, /* unique like the slot: one address per uid range */
                };
                r = runtime_sandbox_create(m->runtime, &spec, ret, err);
        }
        free(layers);
        json_decref(layers_json);
        if (r < 0)
                nb_error_prefix(err, "cannot start a sandbox from template '%.64s'", t->name);
        return r;
}

int manager_start_pool(struct manager *m, unsigned per_template)
{
        if (per_template == 0)
                return 0;
        return pool_start(m, per_template, &m->pool);
}

struct catalog *manager_catalog(struct manager *m)
{
        return m->catalog;
}

struct runtime *manager_runtime(struct manager *m)
{
        return m->runtime;
}

static int new_access_token(bool secure, char **ret, struct nb_error *err)
{
        char token[2 * ACCESS_TOKEN_BYTES + 1];
        int r;

        *ret = NULL;
        if (!secure)
                return 0;
        r = random_hex(token, ACCESS_TOKEN_BYTES);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot generate the sandbox's access token");
        *ret = strdup(token);
        return *ret ? 0 : nb_error_oom(err);
}

int manager_create(struct manager *m, const struct create_request *req, char **ret_id, struct nb_error *err)
{
        struct catalog_template *t = NULL;
        struct catalog_sandbox row = {0};
        struct runtime_sandbox *rt = NULL;
        struct live_sandbox *s = NULL;
        struct sandbox_identity identity;
        struct egress_policy egress = {0};
        struct runtime_egress rules;
        uint32_t slot = 0;
        bool inserted = false, from_pool;
        int64_t now = clock_realtime_ms();
        int r;

        r = egress_policy_parse_text(req->network_json, req->allow_internet_access, &egress, err);
        if (r < 0)
                return r;
        r = catalog_template_get(m->catalog, req->template_ref, &t, err);
        if (r < 0) {
                egress_policy_done(&egress);
                return r;
        }
        s = live_new(m);
        if (!s) {
                r = nb_error_oom(err);
                goto fail;
        }
        r = new_access_token(req->secure, &s->access_token, err);
        if (r < 0)
                goto fail;
        row.access_token = s->access_token;
        row.template_id = t->id;
        row.alias = t->name;
        row.state = (char *)"running";
        row.metadata_json = (char *)req->metadata_json;
        row.envs_json = (char *)req->envs_json;
        row.started_at = now;
        row.end_at = now + req->timeout_s * 1000;
        row.cpu_count = t->cpu_count;
        row.memory_mb = t->memory_mb;
        row.disk_mb = t->disk_mb;
        row.auto_pause = req->auto_pause;
        row.allow_internet_access = req->allow_internet_access;
        row.secure = req->secure;
        row.network_json = (char *)req->network_json;
        row.lifecycle_json = (char *)req->lifecycle_json;

        /* A warm sandbox of this template, when the pool has one, skips the runtime's start. */
        r = pool_claim(m->pool, t->id, &row, s->id, sizeof(s->id), &rt, err);
        if (r < 0)
                goto fail;
        from_pool = r > 0;
        if (from_pool) {
                inserted = true;
                slot = row.uid_slot;
                /* Warm sandboxes are started with their way out; E2B's allow_internet_access
                 * false without allowOut takes it away before the sandbox is anyone's. */
                if (egress.cut) {
                        r = runtime_sandbox_disconnect(rt, err);
                        if (r < 0)
                                goto fail;
                }
        } else {
                r = random_alnum(s->id, MANAGER_SANDBOX_ID_LEN);
                if (r < 0) {
                        r = nb_error_set_errno(err, r, "cannot generate the sandbox's id");
                        goto fail;
                }
                memcpy(row.id, s->id, sizeof(row.id));
                /* The slot is chosen in the insert's own transaction: concurrent creates cannot collide. */
                r = catalog_sandbox_insert_with_slot(m->catalog, &row, &slot, err);
                if (r < 0)
                        goto fail;
                inserted = true;
                if (slot >= POOL_SLOT_FIRST) {
                        r = nb_error_set(err, -EAGAIN, "this host runs the most sandboxes it can (%u)",
                                         POOL_SLOT_FIRST);
                        goto fail;
                }
                r = manager_spawn(m, t, s->id, slot, !egress.cut, &rt, err);
                if (r < 0)
                        goto fail;
        }
        /* Before the agent's start-up call: nothing of the client's runs in there yet. */
        rules = egress_policy_runtime(&egress);
        if (!egress.cut && rules.n_deny > 0) {
                r = runtime_sandbox_set_network(rt, slot, false, &rules, err);
                if (r < 0)
                        goto fail;
        }
        runtime_sandbox_identity(rt, &identity);
        if (!from_pool) { /* a claim recorded the process in its insert */
                r = catalog_sandbox_set_process(m->catalog, s->id, identity.pid, identity.starttime, err);
                if (r < 0)
                        goto fail;
        }
        if (!from_pool)
                r = manager_init_agent(rt, t, req->envs_json, s->access_token, err);
        else if (s->access_token || !envs_empty(req->envs_json))
                /* The pool told it the template's settings already. */
                r = manager_init_agent(rt, NULL, req->envs_json, s->access_token, err);
        if (r < 0)
                goto fail;

        s->rt = rt;
        s->slot = slot;
        s->auto_resume = lifecycle_auto_resume(req->lifecycle_json);
        s->private_ports = network_private_ports(req->network_json);
        live_set_socket(s);
        pthread_mutex_lock(&m->lock);
        r = table_add_locked(m, s);
        pthread_mutex_unlock(&m->lock);
        if (r < 0) {
                s->rt = NULL;
                r = nb_error_oom(err);
                goto fail;
        }
        *ret_id = strdup(s->id);
        if (!*ret_id) {
                /* The sandbox runs and is registered; only our copy of its name failed. */
                return nb_error_oom(err);
        }
        log_info("sandbox=%s created from template '%s' (pid %d)", s->id, t->name, (int)identity.pid);
        catalog_template_free(t);
        egress_policy_done(&egress);
        return 0;

fail:
        if (rt) {
                struct nb_error ignored = {0};
                (void)runtime_sandbox_destroy(m->runtime, rt, &ignored);
        }
        if (inserted) {
                struct nb_error ignored = {0};
                (void)catalog_sandbox_delete(m->catalog, s->id, &ignored);
        }
        if (s)
                live_free(s);
        catalog_template_free(t);
        egress_policy_done(&egress);
        return r;
}

static void set_paused(struct live_sandbox *s, bool paused)
{
        pthread_mutex_lock(&s->m->lock);
        s->paused = paused;
        pthread_mutex_unlock(&s->m->lock);
}

int manager_pause(struct manager *m, const char *id, struct nb_error *err)
{
        struct live_sandbox *s = manager_get(m, id);
        int r;

        if (!s)
                return nb_error_set(err, -ENOENT, "sandbox '%.64s' not found", id);
        /* Freezing may take a moment (v1 settles); only this sandbox waits for it. */
        pthread_mutex_lock(&s->state_lock);
        if (!s->rt)
                r = nb_error_set(err, -ENOENT, "sandbox '%.64s' not found", id);
        else if (s->paused)
                r = nb_error_set(err, -EALREADY, "sandbox '%.64s' is already paused", id);
        else {
                r = runtime_sandbox_freeze(s->rt, err);
                if (r >= 0)
                        r = catalog_sandbox_set_state(m->catalog, id, "paused", err);
                if (r >= 0)
                        set_paused(s, true);
                else
                        (void)runtime_sandbox_thaw(s->rt, NULL);
        }
        pthread_mutex_unlock(&s->state_lock);
        if (r >= 0)
                log_info("sandbox=%s paused", id);
        live_sandbox_unref(s);
        return r;
}

int manager_resume(struct manager *m, const char *id, int64_t timeout_s, struct nb_error *err)
{
        struct live_sandbox *s = manager_get(m, id);
        bool was_paused;
        int r = 0;

        if (!s)
                return nb_error_set(err, -ENOENT, "sandbox '%.64s' not found", id);
        pthread_mutex_lock(&s->state_lock);
        was_paused = s->paused && s->rt;
        if (was_paused) {
                r = runtime_sandbox_thaw(s->rt, err);
                if (r >= 0)
                        r = catalog_sandbox_set_state(m->catalog, id, "running", err);
                if (r >= 0)
                        set_paused(s, false);
        }
        pthread_mutex_unlock(&s->state_lock);
        live_sandbox_unref(s);
        if (r < 0)
                return r;
        if (was_paused) {
                /* A resumed sandbox gets a fresh lifetime; a running one is only ever extended. */
                r = manager_set_timeout(m, id, timeout_s, false, err);
                if (r < 0)
                        return r;
                log_info("sandbox=%s resumed", id);
        }
        return was_paused ? 1 : 0;
}

int live_sandbox_ready(struct live_sandbox *s, struct nb_error *err)
{
        struct manager *m = s->m;
        bool paused, auto_resume;

        pthread_mutex_lock(&m->lock);
        paused = s->paused;
        auto_resume = s->auto_resume;
        pthread_mutex_unlock(&m->lock);
        if (!paused)
                return 0;
        if (!auto_resume)
                return nb_error_set(err, -EAGAIN, "sandbox %s is paused; resume it with Sandbox.connect()", s->id);
        return manager_resume(m, s->id, DEFAULT_RESUME_TIMEOUT_S, err) < 0 ? err->code : 0;
}

/* Removes a sandbox from the table, kills it and deletes its row. */
static int kill_one(struct manager *m, const char *id, struct nb_error *err)
{
        struct live_sandbox *s;
        size_t i;
        int r;

        pthread_mutex_lock(&m->lock);
        s = table_find_locked(m, id, &i);
        if (s) {
                m->table[i] = m->table[--m->n];
        }
        pthread_mutex_unlock(&m->lock);
        if (!s)
                return nb_error_set(err, -ENOENT, "sandbox '%.64s' not found", id);

        pthread_mutex_lock(&s->state_lock); /* not while a pause or resume uses rt */
        r = runtime_sandbox_destroy(m->runtime, s->rt, err);
        s->rt = NULL;
        pthread_mutex_unlock(&s->state_lock);
        if (r < 0)
                log_warning("sandbox=%s teardown incomplete: %s", id, err->message);
        (void)catalog_sandbox_delete(m->catalog, id, NULL);
        log_info("sandbox=%s killed", id);
        live_sandbox_unref(s);
        return 0;
}

/* The stored network config with the egress fields replaced by update's (absent: cleared).
 * allowPublicTraffic, maskRequestHost and httpsPorts are not the update's to change. */
static char *network_merge(const char *stored, const json_t *update)
{
        static const char *const egress_fields[] = {"allowOut", "denyOut", "egressProxy", "rules"};
        json_t *n = stored ? json_loads(stored, 0, NULL) : NULL;
        char *text;

        if (!json_is_object(n)) {
                json_decref(n);
                n = json_object();
        }
        for (size_t i = 0; i < sizeof(egress_fields) / sizeof(egress_fields[0]); i++) {
                json_t *v = json_object_get(update, egress_fields[i]);

                if (v && !json_is_null(v))
                        json_object_set(n, egress_fields[i], v);
                else
                        json_object_del(n, egress_fields[i]);
        }
        text = json_dumps(n, JSON_COMPACT);
        json_decref(n);
        return text;
}

int manager_update_network(struct manager *m, const char *id, int allow_internet_access, const json_t *update,
                           struct nb_error *err)
{
        struct live_sandbox *s = manager_get(m, id);
        struct catalog_sandbox *row = NULL;
        struct egress_policy egress = {0};
        struct runtime_egress rules;
        _cleanup_free_ char *network = NULL;
        int r;

        if (!s)
                return nb_error_set(err, -ENOENT, "sandbox '%.64s' not found", id);
        r = egress_policy_parse(update, allow_internet_access, &egress, err);
        if (r < 0)
                goto out;
        /* Serialised with pause, resume, kill and other updates of this sandbox. */
        pthread_mutex_lock(&s->state_lock);
        if (!s->rt) {
                r = nb_error_set(err, -ENOENT, "sandbox '%.64s' not found", id);
                goto unlock;
        }
        r = catalog_sandbox_get(m->catalog, id, &row, err);
        if (r < 0)
                goto unlock;
        network = network_merge(row->network_json, update);
        if (!network) {
                r = nb_error_oom(err);
                goto unlock;
        }
        /* Catalog first: should the daemon die before the kernel has the rules, the next one
         * applies what the catalog says (adopt_network). */
        r = catalog_sandbox_set_network_access(m->catalog, id, network, allow_internet_access, err);
        if (r < 0)
                goto unlock;
        rules = egress_policy_runtime(&egress);
        r = runtime_sandbox_set_network(s->rt, s->slot, !egress.cut, &rules, err);
        if (r < 0) {
                /* Whatever the kernel has now, the catalog must not claim more than the old
                 * rules; the caller sees the failure. */
                (void)catalog_sandbox_set_network_access(m->catalog, id, row->network_json,
                                                         row->allow_internet_access, NULL);
                goto unlock;
        }
        log_info("sandbox=%s network: %zu allowed and %zu denied range(s)%s", id, egress.n_allow, egress.n_deny,
                 egress.cut ? ", no way out" : "");
unlock:
        pthread_mutex_unlock(&s->state_lock);
out:
        catalog_sandbox_free(row);
        egress_policy_done(&egress);
        live_sandbox_unref(s);
        return r;
}

int manager_kill(struct manager *m, const char *id, struct nb_error *err)
{
        return kill_one(m, id, err);
}

int manager_set_timeout(struct manager *m, const char *id, int64_t timeout_s, bool only_extend, struct nb_error *err)
{
        struct catalog_sandbox *row = NULL;
        int64_t end_at = clock_realtime_ms() + timeout_s * 1000;
        int r;

        r = catalog_sandbox_get(m->catalog, id, &row, err);
        if (r < 0)
                return r;
        if (!only_extend || end_at > row->end_at)
                r = catalog_sandbox_set_end_at(m->catalog, id, end_at, err);
        catalog_sandbox_free(row);
        return r;
}

int manager_reap_expired(struct manager *m)
{
        char **ids = NULL;
        size_t n = 0;
        int killed = 0;

        if (catalog_sandbox_list_expired(m->catalog, clock_realtime_ms(), &ids, &n, NULL) < 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                struct nb_error err = {0};
                struct catalog_sandbox *row = NULL;
                bool pause = catalog_sandbox_get(m->catalog, ids[i], &row, NULL) >= 0 && row->auto_pause;

                catalog_sandbox_free(row);
                if (pause && manager_pause(m, ids[i], &err) >= 0) {
                        log_info("sandbox=%s reached its end time; paused (autoPause)", ids[i]);
                } else if (kill_one(m, ids[i], &err) >= 0) {
                        log_info("sandbox=%s reached its end time", ids[i]);
                        killed++;
                } else {
                        /* A row without a live sandbox (its start failed midway): drop the row. */
                        (void)catalog_sandbox_delete(m->catalog, ids[i], NULL);
                        (void)runtime_sandbox_remove_leftovers(m->runtime, ids[i], NULL);
                }
                free(ids[i]);
        }
        free(ids);
        return killed;
}

/* Sandbox dirs without a catalog row: warm-pool sandboxes of a daemon that died, or a
 * create interrupted before its row existed. Nothing refers to them: remove them. */
static void remove_unknown_dirs(struct manager *m)
{
        char **ids = NULL;
        size_t n = 0;

        if (runtime_sandbox_list_dirs(m->runtime, &ids, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                struct live_sandbox *s = manager_get(m, ids[i]);
                struct catalog_sandbox *row = NULL;

                if (s)
                        live_sandbox_unref(s);
                else if (catalog_sandbox_get(m->catalog, ids[i], &row, NULL) == -ENOENT) {
                        log_info("sandbox=%s has no catalog entry (warm pool or interrupted create); removing it",
                                 ids[i]);
                        (void)runtime_sandbox_remove_leftovers(m->runtime, ids[i], NULL);
                }
                catalog_sandbox_free(row);
                free(ids[i]);
        }
        free(ids);
}

/* The sandbox's egress rules as the catalog has them, applied again: they may be missing
 * (a kernel without them after a reboot is no matter: the sandboxes are gone too) or stale
 * (the daemon died between the catalog and the kernel). Rows that never had a network
 * config cannot have rules: skipped, adoption stays cheap. */
static void adopt_network(struct manager *m, struct live_sandbox *s, const struct catalog_sandbox *row)
{
        struct egress_policy egress = {0};
        struct runtime_egress rules;
        struct nb_error err = {0};
        int r;

        if (!row->network_json && row->allow_internet_access != 0)
                return;
        r = egress_policy_parse_text(row->network_json, row->allow_internet_access, &egress, &err);
        if (r >= 0) {
                rules = egress_policy_runtime(&egress);
                r = runtime_sandbox_set_network(s->rt, s->slot, !egress.cut, &rules, &err);
        }
        if (r < 0)
                log_error("sandbox=%s: its egress rules are not in place: %s", s->id, err.message);
        egress_policy_done(&egress);
        (void)m;
}

int manager_adopt_all(struct manager *m)
{
        struct catalog_sandbox **rows = NULL;
        size_t n = 0;
        int r, adopted = 0;

        r = catalog_sandbox_list_all(m->catalog, &rows, &n, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to list sandboxes to re-adopt: %m");
        for (size_t i = 0; i < n; i++) {
                struct sandbox_identity identity = {.pid = (pid_t)rows[i]->pid,
                                                    .starttime = rows[i]->pid_starttime};
                struct runtime_sandbox *rt = NULL;
                struct live_sandbox *s;
                struct nb_error err = {0};

                r = runtime_sandbox_adopt(m->runtime, rows[i]->id, &identity,
                                          UID_BASE_FIRST + rows[i]->uid_slot * RUNTIME_UID_RANGE, &rt, &err);
                if (r < 0) {
                        log_info("sandbox=%s is gone (%s); removing what it left", rows[i]->id, err.message);
                        (void)runtime_sandbox_remove_leftovers(m->runtime, rows[i]->id, NULL);
                        (void)catalog_sandbox_delete(m->catalog, rows[i]->id, NULL);
                        continue;
                }
                s = live_new(m);
                if (!s || (rows[i]->access_token && !(s->access_token = strdup(rows[i]->access_token)))) {
                        if (s)
                                live_free(s);
                        runtime_sandbox_forget(rt);
                        log_error("sandbox=%s not re-adopted: out of memory", rows[i]->id);
                        continue;
                }
                s->rt = rt;
                s->slot = rows[i]->uid_slot;
                s->paused = rows[i]->state && strcmp(rows[i]->state, "paused") == 0;
                s->auto_resume = lifecycle_auto_resume(rows[i]->lifecycle_json);
                s->private_ports = network_private_ports(rows[i]->network_json);
                snprintf(s->id, sizeof(s->id), "%s", rows[i]->id);
                adopt_network(m, s, rows[i]);
                live_set_socket(s);
                pthread_mutex_lock(&m->lock);
                r = table_add_locked(m, s);
                pthread_mutex_unlock(&m->lock);
                if (r < 0) {
                        runtime_sandbox_forget(rt);
                        live_free(s);
                        continue;
                }
                adopted++;
        }
        for (size_t i = 0; i < n; i++)
                catalog_sandbox_free(rows[i]);
        free(rows);
        remove_unknown_dirs(m);
        if (adopted > 0)
                log_info("re-adopted %d running sandbox(es)", adopted);
        return adopted;
}
