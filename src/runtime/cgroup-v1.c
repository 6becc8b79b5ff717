/* cgroup v1: one directory per hierarchy (cpu, memory, pids, freezer, and on hybrid
 * hosts name=systemd and unified) at <mount>/nestbox/<id>. The parent moves the child
 * into each of them between clone3 and releasing it (v1 has no CLONE_INTO_CGROUP).
 * Attaching takes cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
 * period when the lock was idle: usually ~50 us for all, sometimes ~10 ms (mounting
 * the hierarchies with "favordynmods" removes that; v2 with CLONE_INTO_CGROUP avoids it). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/log.h"
#include "runtime-internal.h"

static const char *const v1_names[_CG_V1_MAX] = {
        [CG_V1_CPU] = "cpu",         [CG_V1_MEMORY] = "memory",   [CG_V1_PIDS] = "pids",
        [CG_V1_FREEZER] = "freezer", [CG_V1_CPUACCT] = "cpuacct", [CG_V1_SYSTEMD] = "systemd",
        [CG_V1_UNIFIED] = "unified",
};

int cgroup_v1_probe(const char *root, struct cgroup_host *h, struct nb_error *err)
{
        char resolved[_CG_V1_MAX][4096];
        unsigned found = 0;

        h->version = CGROUP_V1;
        for (unsigned i = 0; i < _CG_V1_MAX; i++) {
                char path[4096], probe[4200];

                if (snprintf(path, sizeof(path), "%s/%s", root, v1_names[i]) >= (int)sizeof(path))
                        return nb_error_set(err, -ENAMETOOLONG, "cgroup root '%.128s' is too long", root);
                snprintf(probe, sizeof(probe), "%s/cgroup.procs", path);
                resolved[i][0] = 0;
                if (access(probe, F_OK) < 0)
                        continue; /* not mounted: limits needing it fail at create */
                /* "cpu" is often a symlink to a co-mounted "cpu,cpuacct": one hierarchy, one dir. */
                if (!realpath(path, resolved[i]))
                        return nb_error_set_errno(err, -errno, "cannot resolve '%.128s'", path);
                for (unsigned j = 0; j < i; j++)
                        if (strcmp(resolved[i], resolved[j]) == 0)
                                h->v1_shared[i] = true;
                h->v1_parent[i] = path_join(resolved[i], "nestbox");
                if (!h->v1_parent[i])
                        return nb_error_oom(err);
                if (!h->v1_shared[i] && mkdir(h->v1_parent[i], 0755) < 0 && errno != EEXIST)
                        return nb_error_set_errno(err, -errno, "cannot create cgroup '%.128s'",
                                                  h->v1_parent[i]);
                if (i < CG_V1_SYSTEMD)
                        found++;
        }
        if (found == 0)
                return nb_error_set(
                        err, -EOPNOTSUPP,
                        "no cgroup v1 controller (cpu, memory, pids, freezer) under '%.128s' and "
                        "no cgroup v2 hierarchy there either",
                        root);
        return 0;
}

static int v1_open(const struct cgroup_host *h, enum cgroup_v1_ctrl c, const char *id)
{
        char path[4096];
        int r, fd;

        if (!h->v1_parent[c])
                return -EOPNOTSUPP;
        r = cgroup_path(path, sizeof(path), h->v1_parent[c], id);
        if (r < 0)
                return r;
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int v1_write(const struct cgroup_host *h, enum cgroup_v1_ctrl c, const char *id, const char *file,
                    const char *value, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = v1_open(h, c, id);
        if (fd < 0)
                return nb_error_set_errno(err, fd, "cannot open the %s cgroup of sandbox '%s'", v1_names[c],
                                          id);
        r = cgroup_write_at(fd, file, value);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot write '%s' to %s/nestbox/%s/%s", value,
                                          v1_names[c], id, file);
        return 0;
}

static int v1_require(const struct cgroup_host *h, enum cgroup_v1_ctrl c, const char *what,
                      struct nb_error *err)
{
        if (!h->v1_parent[c])
                return nb_error_set(err, -EOPNOTSUPP,
                                    "%s needs the cgroup v1 '%s' controller, not mounted here", what,
                                    v1_names[c]);
        return 0;
}

int cgroup_v1_create(const struct cgroup_host *h, const char *id, const struct cgroup_limits *limits,
                     struct nb_error *err)
{
        char value[32];
        int r;

        if (limits->cpu_count && (r = v1_require(h, CG_V1_CPU, "a cpu limit", err)) < 0)
                return r;
        if (limits->memory_mb && (r = v1_require(h, CG_V1_MEMORY, "a memory limit", err)) < 0)
                return r;
        if (limits->pids_max && (r = v1_require(h, CG_V1_PIDS, "a pids limit", err)) < 0)
                return r;

        for (unsigned i = 0; i < _CG_V1_MAX; i++) {
                char path[4096];

                if (!h->v1_parent[i] || h->v1_shared[i])
                        continue;
                r = cgroup_path(path, sizeof(path), h->v1_parent[i], id);
                if (r < 0)
                        return nb_error_set(err, r, "cgroup path for sandbox '%s' is too long", id);
                /* An existing empty cgroup is a leftover of a crashed create with this id: reuse it. */
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return nb_error_set_errno(err, -errno, "cannot create cgroup '%.128s'", path);
        }

        if (limits->cpu_count) {
                r = v1_write(h, CG_V1_CPU, id, "cpu.cfs_period_us", "100000", err);
                if (r < 0)
                        return r;
                snprintf(value, sizeof(value), "%" PRIu64, (uint64_t)limits->cpu_count * 100000);
                r = v1_write(h, CG_V1_CPU, id, "cpu.cfs_quota_us", value, err);
                if (r < 0)
                        return r;
        }
        if (limits->memory_mb) {
                _cleanup_close_ int fd = -EBADF;

                snprintf(value, sizeof(value), "%" PRIu64, (uint64_t)limits->memory_mb << 20);
                r = v1_write(h, CG_V1_MEMORY, id, "memory.limit_in_bytes", value, err);
                if (r < 0)
                        return r;
                /* memsw exists only with swap accounting; set it equal so the limit cannot be
                 * dodged by swapping (the limit went first: memsw must stay >= limit). */
                fd = v1_open(h, CG_V1_MEMORY, id);
                if (fd >= 0 && faccessat(fd, "memory.memsw.limit_in_bytes", F_OK, 0) == 0) {
                        r = v1_write(h, CG_V1_MEMORY, id, "memory.memsw.limit_in_bytes", value, err);
                        if (r < 0)
                                return r;
                }
        }
        if (limits->pids_max) {
                snprintf(value, sizeof(value), "%u", limits->pids_max);
                r = v1_write(h, CG_V1_PIDS, id, "pids.max", value, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cgroup_v1_attach(const struct cgroup_host *h, const char *id, pid_t pid, struct nb_error *err)
{
        char value[32];
        int r;

        snprintf(value, sizeof(value), "%d", (int)pid);
        for (unsigned i = 0; i < _CG_V1_MAX; i++) {
                if (!h->v1_parent[i] || h->v1_shared[i])
                        continue;
                r = v1_write(h, i, id, "cgroup.procs", value, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Sends SIGKILL to every task listed in the cgroup; returns how many were listed. */
static int kill_listed(int fd)
{
        char buf[8192], *p, *end;
        int n = 0;

        if (cgroup_read_at(fd, "cgroup.procs", buf, sizeof(buf)) <= 0)
                return 0;
        for (p = buf;; p = end) {
                long pid = strtol(p, &end, 10);

                if (end == p)
                        break;
                if (pid > 1 && kill((pid_t)pid, SIGKILL) == 0)
                        n++;
        }
        return n;
}

void cgroup_v1_kill(const struct cgroup_host *h, const char *id)
{
        static const enum cgroup_v1_ctrl order[] = {CG_V1_FREEZER, CG_V1_PIDS, CG_V1_MEMORY, CG_V1_CPU};
        _cleanup_close_ int freezer = -EBADF, list = -EBADF;

        /* Frozen tasks cannot finish dying: thaw (a no-op when not frozen). */
        if (h->v1_parent[CG_V1_FREEZER]) {
                freezer = v1_open(h, CG_V1_FREEZER, id);
                if (freezer >= 0)
                        (void)cgroup_write_at(freezer, "freezer.state", "THAWED");
        }
        /* Killed tasks still need cpu and memory to exit: a fork bomb at its memory limit
         * and cpu quota was seen to keep thousands of SIGKILLed tasks runnable for minutes.
         * Lift both first (memsw before memory: the kernel keeps memsw >= memory). */
        if (h->v1_parent[CG_V1_MEMORY]) {
                _cleanup_close_ int mem = v1_open(h, CG_V1_MEMORY, id);

                if (mem >= 0) {
                        (void)cgroup_write_at(mem, "memory.memsw.limit_in_bytes", "-1");
                        (void)cgroup_write_at(mem, "memory.limit_in_bytes", "-1");
                }
        }
        if (h->v1_parent[CG_V1_CPU]) {
                _cleanup_close_ int cpu = v1_open(h, CG_V1_CPU, id);

                if (cpu >= 0)
                        (void)cgroup_write_at(cpu, "cpu.cfs_quota_us", "-1");
        }
        /* v1 has no cgroup.kill. Normally the pid namespace died with pid 1 and the list is
         * empty; leftovers of a daemon that crashed mid-create are killed here. A fork bomb
         * cannot outrun this for long: pids.max bounds it. */
        for (size_t i = 0; i < ELEMENTSOF(order) && list < 0; i++)
                if (h->v1_parent[order[i]])
                        list = v1_open(h, order[i], id);
        if (list < 0)
                return;
        for (unsigned round = 0; round < 100 && kill_listed(list) > 0; round++) {
                struct timespec ts = {0, 1000000L};

                nanosleep(&ts, NULL);
        }
}

void cgroup_v1_remove(const struct cgroup_host *h, const char *id)
{
        cgroup_v1_kill(h, id);
        for (unsigned i = 0; i < _CG_V1_MAX; i++) {
                char path[4096];
                int r;

                if (!h->v1_parent[i] || h->v1_shared[i])
                        continue;
                if (cgroup_path(path, sizeof(path), h->v1_parent[i], id) < 0)
                        continue;
                r = cgroup_rmdir_retry(path);
                if (r < 0)
                        log_warning_errno(r, "sandbox=%s: cannot remove cgroup %s, ignoring: %m", id, path);
        }
}

int cgroup_v1_freeze(const struct cgroup_host *h, const char *id, bool frozen, struct nb_error *err)
{
        const char *want = frozen ? "FROZEN" : "THAWED";
        _cleanup_close_ int fd = -EBADF;
        char state[64];
        int r;

        r = v1_require(h, CG_V1_FREEZER, "pausing", err);
        if (r < 0)
                return r;
        fd = v1_open(h, CG_V1_FREEZER, id);
        if (fd < 0)
                return nb_error_set_errno(err, fd, "cannot open the freezer cgroup of sandbox '%s'", id);
        r = cgroup_write_at(fd, "freezer.state", want);
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot write %s to the freezer of sandbox '%s'", want,
                                          id);
        /* v1 passes through FREEZING while tasks reach the refrigerator. */
        for (unsigned i = 0; i < 2000; i++) {
                struct timespec ts = {0, 1000000L};

                r = cgroup_read_at(fd, "freezer.state", state, sizeof(state));
                if (r < 0)
                        return nb_error_set_errno(err, r, "cannot read the freezer state of sandbox '%s'",
                                                  id);
                if (strncmp(state, want, strlen(want)) == 0)
                        return 0;
                /* Writing again kicks tasks that were busy in the kernel at the first write. */
                if (frozen && i % 100 == 99)
                        (void)cgroup_write_at(fd, "freezer.state", want);
                nanosleep(&ts, NULL);
        }
        return nb_error_set(err, -ETIMEDOUT, "sandbox '%s' did not reach %s within 2s", id, want);
}

/* Missing controllers leave their fields 0; a sandbox whose cgroups are gone is -ENOENT. */
int cgroup_v1_usage(const struct cgroup_host *h, const char *id, struct sandbox_usage *ret)
{
        _cleanup_close_ int mem = -EBADF, cpu = -EBADF;
        char buf[64];
        int r;

        mem = v1_open(h, CG_V1_MEMORY, id);
        if (mem == -ENOENT)
                return mem;
        if (mem >= 0) {
                r = cgroup_read_at(mem, "memory.usage_in_bytes", buf, sizeof(buf));
                if (r < 0)
                        return r;
                ret->memory_bytes = strtoull(buf, NULL, 10);
                /* total_*: this cgroup and any child the sandbox could not make anyway. */
                (void)cgroup_read_key_at(mem, "memory.stat", "total_cache", &ret->memory_cache);
                (void)cgroup_read_key_at(mem, "memory.stat", "total_inactive_file", &ret->memory_inactive_file);
        }
        cpu = v1_open(h, CG_V1_CPUACCT, id);
        if (cpu >= 0 && cgroup_read_at(cpu, "cpuacct.usage", buf, sizeof(buf)) >= 0)
                ret->cpu_ns = strtoull(buf, NULL, 10);
        return 0;
}
