/* Warm pool (see pool.h). One filler thread; `lock` guards the entry list and
 * slot choice, and a claim inserts its catalog row while still holding it, so a
 * slot is always owned by exactly one of: a warm entry, a catalog row.
 *
 * A claim does not start the refill at once: starting a sandbox is several
 * milliseconds of CPU, mostly in the kernel, and right after a create the client
 * runs its first commands in the sandbox it was just given. On a small host the
 * two would share the cores, and the new sandbox's first command would pay for
 * the refill. So the filler waits POOL_REFILL_DELAY_MS after the last claim,
 * unless a claim found a template's pool empty or took its last sandbox: then
 * creates come faster than the pool refills, and the next one is better served
 * warm than quiet. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "../base/random.h"
#include "../catalog/catalog.h"
#include "../runtime/runtime.h"
#include "manager.h"

#define POOL_IDLE_CHECK_MS 1000
#define POOL_REFILL_DELAY_MS 15

struct pool_entry {
        struct pool_entry *next;
        char id[MANAGER_SANDBOX_ID_LEN + 1];
        char *template_id;
        uint32_t slot;
        struct runtime_sandbox *rt; /* NULL while the filler is still starting it */
};

struct pool {
        struct manager *m;
        unsigned per_template;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t thread;
        bool stop;
        bool claimed; /* since the filler last looked */
        bool dry;     /* a claim left a template without a warm sandbox, or found none */
        struct pool_entry *entries;
};

static void entry_free(struct pool *p, struct pool_entry *e)
{
        if (e->rt) {
                struct nb_error ignored = {0};

                (void)runtime_sandbox_destroy(manager_runtime(p->m), e->rt, &ignored);
        }
        free(e->template_id);
        free(e);
}

static void entry_unlink_locked(struct pool *p, struct pool_entry *e)
{
        for (struct pool_entry **pp = &p->entries; *pp; pp = &(*pp)->next)
                if (*pp == e) {
                        *pp = e->next;
                        return;
                }
}

static unsigned count_locked(struct pool *p, const char *template_id)
{
        unsigned n = 0;

        for (struct pool_entry *e = p->entries; e; e = e->next)
                n += strcmp(e->template_id, template_id) == 0;
        return n;
}

/* The smallest pool slot that neither a catalog row nor a warm entry holds, or
 * POOL_SLOT_END. One catalog query: this runs under the lock claims take. */
static uint32_t free_slot_locked(struct pool *p)
{
        bool used[POOL_SLOT_END - POOL_SLOT_FIRST] = {0};

        if (catalog_uid_slots_used(manager_catalog(p->m), POOL_SLOT_FIRST, POOL_SLOT_END, used) < 0)
                return POOL_SLOT_END;
        for (struct pool_entry *e = p->entries; e; e = e->next)
                if (e->slot >= POOL_SLOT_FIRST && e->slot < POOL_SLOT_END)
                        used[e->slot - POOL_SLOT_FIRST] = true;
        for (uint32_t s = POOL_SLOT_FIRST; s < POOL_SLOT_END; s++)
                if (!used[s - POOL_SLOT_FIRST])
                        return s;
        return POOL_SLOT_END;
}

/* Starts one warm sandbox of t, if the pool still lacks one. Returns 1 when it added one. */
static int fill_one(struct pool *p, const struct catalog_template *t)
{
        struct nb_error err = {0};
        struct pool_entry *e;
        struct runtime_sandbox *rt = NULL;
        uint32_t slot = POOL_SLOT_END;
        int r;

        e = calloc(1, sizeof(*e));
        if (!e || !(e->template_id = strdup(t->id)) || random_alnum(e->id, MANAGER_SANDBOX_ID_LEN) < 0) {
                if (e)
                        free(e->template_id);
                free(e);
                return -ENOMEM;
        }
        pthread_mutex_lock(&p->lock);
        if (count_locked(p, t->id) < p->per_template)
                slot = free_slot_locked(p);
        if (slot < POOL_SLOT_END) {
                e->slot = slot;
                e->next = p->entries;
                p->entries = e;
        }
        pthread_mutex_unlock(&p->lock);
        if (slot >= POOL_SLOT_END) {
                free(e->template_id);
                free(e);
                return 0;
        }

        r = manager_spawn(p->m, t, e->id, slot, true, &rt, &err);
        /* Its /init now, off every create's path: a claim only adds what its request brings. */
        if (r >= 0 && (r = manager_init_agent(rt, t, NULL, NULL, &err)) < 0) {
                struct nb_error ignored = {0};

                (void)runtime_sandbox_destroy(manager_runtime(p->m), rt, &ignored);
                rt = NULL;
        }
        pthread_mutex_lock(&p->lock);
        if (r >= 0)
                e->rt = rt;
        else
                entry_unlink_locked(p, e);
        pthread_mutex_unlock(&p->lock);
        if (r < 0) {
                /* A template that cannot start is logged once a round, not retried in a tight loop. */
                log_warning("warm pool: %s", err.message);
                entry_free(p, e);
                return r;
        }
        return 1;
}

static void fill_all(struct pool *p)
{
        struct catalog_template **ts = NULL;
        size_t n = 0;

        if (catalog_template_list(manager_catalog(p->m), &ts, &n, NULL) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                bool stop;

                pthread_mutex_lock(&p->lock);
                stop = p->stop;
                pthread_mutex_unlock(&p->lock);
                if (stop)
                        break;
                while (fill_one(p, ts[i]) > 0)
                        ;
        }
        catalog_template_array_free(ts, n);
}

/* Waits for a claim (or the periodic check), then for the claims to pause (see the
 * top of the file). Returns false when the pool stops. */
static bool wait_for_refill(struct pool *p)
{
        struct timespec until = clock_monotonic_after_ms(POOL_IDLE_CHECK_MS);
        bool go_on;

        pthread_mutex_lock(&p->lock);
        if (!p->stop && !p->claimed && !p->dry)
                (void)pthread_cond_timedwait(&p->wake, &p->lock, &until);
        while (!p->stop && p->claimed && !p->dry) {
                p->claimed = false;
                until = clock_monotonic_after_ms(POOL_REFILL_DELAY_MS);
                while (!p->stop && !p->claimed && !p->dry &&
                       pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT)
                        ;
        }
        p->claimed = p->dry = false;
        go_on = !p->stop;
        pthread_mutex_unlock(&p->lock);
        return go_on;
}

static void *pool_main(void *arg)
{
        struct pool *p = arg;

        do
                fill_all(p);
        while (wait_for_refill(p));
        return NULL;
}

int pool_start(struct manager *m, unsigned per_template, struct pool **ret)
{
        struct pool *p = calloc(1, sizeof(*p));
        pthread_condattr_t attr;
        int k;

        if (!p)
                return -ENOMEM;
        p->m = m;
        p->per_template = per_template;
        pthread_mutex_init(&p->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&p->wake, &attr);
        pthread_condattr_destroy(&attr);
        k = pthread_create(&p->thread, NULL, pool_main, p);
        if (k != 0) {
                pthread_cond_destroy(&p->wake);
                pthread_mutex_destroy(&p->lock);
                free(p);
                return -k;
        }
        *ret = p;
        return 0;
}

struct pool *pool_free(struct pool *p)
{
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        while (p->entries) {
                struct pool_entry *e = p->entries;

                p->entries = e->next;
                entry_free(p, e);
        }
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

int pool_claim(struct pool *p, const char *template_id, struct catalog_sandbox *row, char *ret_id,
               size_t id_size, struct runtime_sandbox **ret_rt, struct nb_error *err)
{
        struct sandbox_identity identity;
        struct pool_entry *e = NULL;
        int r;

        if (!p)
                return 0;
        pthread_mutex_lock(&p->lock);
        for (struct pool_entry *x = p->entries; x; x = x->next)
                if (x->rt && strcmp(x->template_id, template_id) == 0 && runtime_sandbox_alive(x->rt)) {
                        e = x;
                        break;
                }
        if (!e) {
                p->dry = true;
                pthread_cond_signal(&p->wake);
                pthread_mutex_unlock(&p->lock);
                return 0;
        }
        entry_unlink_locked(p, e);
        p->claimed = true;
        if (count_locked(p, template_id) == 0)
                p->dry = true;
        snprintf(row->id, sizeof(row->id), "%s", e->id);
        row->uid_slot = e->slot;
        runtime_sandbox_identity(e->rt, &identity); /* one write records it with its process */
        row->pid = identity.pid;
        row->pid_starttime = identity.starttime;
        /* Under the lock: until the row exists, nothing else may pick this slot. */
        r = catalog_sandbox_insert(manager_catalog(p->m), row, err);
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        if (r < 0) {
                entry_free(p, e);
                return r;
        }
        snprintf(ret_id, id_size, "%s", e->id);
        *ret_rt = TAKE_PTR(e->rt);
        entry_free(p, e);
        return 1;
}
