/* cgroup v2 (unified): one directory <root>/nestbox/<id>. The child is born in it
 * through clone3(CLONE_INTO_CGROUP), so there is no window where it runs outside
 * its limits and no attach step. Freezing uses cgroup.freeze (5.2+), cleanup
 * cgroup.kill (5.14+). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/log.h"
#include "runtime-internal.h"

static const struct {
        const char *name;
        unsigned bit;
} v2_ctrls[] = {
        {"cpu", CG_V2_CPU},
        {"memory", CG_V2_MEMORY},
        {"pids", CG_V2_PIDS},
};

static bool word_in(const char *list, const char *word)
{
        size_t n = strlen(word);

        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
                        return true;
        return false;
}

static void enable_controllers(int dirfd, const char *available)
{
        /* One write per controller: a single "+cpu +memory +pids" fails as a whole when
         * one of them cannot be enabled. Failures surface at create when a limit needs it. */
        for (size_t i = 0; i < ELEMENTSOF(v2_ctrls); i++) {
                char value[32];

                if (!word_in(available, v2_ctrls[i].name))
                        continue;
                snprintf(value, sizeof(value), "+%s", v2_ctrls[i].name);
                (void)cgroup_write_at(dirfd, "cgroup.subtree_control", value);
        }
}

int cgroup_v2_probe(const char *root, struct cgroup_host *h, struct nb_error *err)
{
        _cleanup_close_ int root_fd = -EBADF, parent_fd = -EBADF;
        char buf[512];
        int r;

        h->version = CGROUP_V2;
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open cgroup root '%.128s'", root);
        r = cgroup_read_at(root_fd, "cgroup.controllers", buf, sizeof(buf));
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot read %.128s/cgroup.controllers", root);
        enable_controllers(root_fd, buf);

        h->v2_parent = path_join(root, "nestbox");
        if (!h->v2_parent)
                return nb_error_oom(err);
        if (mkdir(h->v2_parent, 0755) < 0 && errno != EEXIST)
                return nb_error_set_errno(err, -errno, "cannot create cgroup '%.128s'", h->v2_parent);
        parent_fd = open(h->v2_parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (parent_fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open cgroup '%.128s'", h->v2_parent);
        r = cgroup_read_at(parent_fd, "cgroup.controllers", buf, sizeof(buf));
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot read %.128s/cgroup.controllers", h->v2_parent);
        enable_controllers(parent_fd, buf);

        r = cgroup_read_at(parent_fd, "cgroup.subtree_control", buf, sizeof(buf));
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot read %.128s/cgroup.subtree_control", h->v2_parent);
        h->v2_controllers = 0;
        for (size_t i = 0; i < ELEMENTSOF(v2_ctrls); i++)
                if (word_in(buf, v2_ctrls[i].name))
                        h->v2_controllers |= v2_ctrls[i].bit;
        return 0;
}

static int v2_require(unsigned controllers, unsigned bit, const char *name, const char *what,
                      struct nb_error *err)
{
        if (!(controllers & bit))
                return nb_error_set(
                        err, -EOPNOTSUPP,
                        "%s needs the cgroup v2 '%s' controller, which is not enabled for nestbox's "
                        "cgroup on this host",
                        what, name);
        return 0;
}

int cgroup_v2_set_limits(int dirfd, unsigned controllers, const struct cgroup_limits *limits,
                         struct nb_error *err)
{
        char value[64];
        int r;

        if (limits->cpu_count) {
                r = v2_require(controllers, CG_V2_CPU, "cpu", "a cpu limit", err);
                if (r < 0)
                        return r;
                snprintf(value, sizeof(value), "%" PRIu64 " 100000", (uint64_t)limits->cpu_count * 100000);
                r = cgroup_write_at(dirfd, "cpu.max", value);
                if (r < 0)
                        return nb_error_set_errno(err, r, "cannot write cpu.max '%s'", value);
        }
        if (limits->memory_mb) {
                r = v2_require(controllers, CG_V2_MEMORY, "memory", "a memory limit", err);
                if (r < 0)
                        return r;
                snprintf(value, sizeof(value), "%" PRIu64, (uint64_t)limits->memory_mb << 20);
                r = cgroup_write_at(dirfd, "memory.max", value);
                if (r < 0)
                        return nb_error_set_errno(err, r, "cannot write memory.max '%s'", value);
                /* No swap: the limit is the limit. The file is absent without swap accounting. */
                r = cgroup_write_at(dirfd, "memory.swap.max", "0");
                if (r < 0 && r != -ENOENT)
                        return nb_error_set_errno(err, r, "cannot write memory.swap.max");
        }
        if (limits->pids_max) {
                r = v2_require(controllers, CG_V2_PIDS, "pids", "a pids limit", err);
                if (r < 0)
                        return r;
                snprintf(value, sizeof(value), "%u", limits->pids_max);
                r = cgroup_write_at(dirfd, "pids.max", value);
                if (r < 0)
                        return nb_error_set_errno(err, r, "cannot write pids.max '%s'", value);
        }
        return 0;
}

static int v2_open(const struct cgroup_host *h, const char *id)
{
        char path[4096];
        int r, fd;

        r = cgroup_path(path, sizeof(path), h->v2_parent, id);
        if (r < 0)
                return r;
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int cgroup_v2_create(const struct cgroup_host *h, const char *id, const struct cgroup_limits *limits,
                     int *ret_clone_fd, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        char path[4096];
        int r;

        r = cgroup_path(path, sizeof(path), h->v2_parent, id);
        if (r < 0)
                return nb_error_set(err, r, "cgroup path for sandbox '%s' is too long", id);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return nb_error_set_errno(err, -errno, "cannot create cgroup '%.128s'", path);
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open cgroup '%.128s'", path);
        r = cgroup_v2_set_limits(fd, h->v2_controllers, limits, err);
        if (r < 0)
                return r;
        *ret_clone_fd = TAKE_FD(fd);
        return 0;
}

void cgroup_v2_kill(const struct cgroup_host *h, const char *id)
{
        _cleanup_close_ int fd = v2_open(h, id);

        if (fd < 0)
                return;
        /* Killed tasks still need cpu and memory to exit (a fork bomb at its limits can
         * keep SIGKILLed tasks runnable for minutes): lift the limits first. cgroup.kill
         * (5.14+) also reaches frozen tasks; thawing covers older kernels. */
        (void)cgroup_write_at(fd, "memory.max", "max");
        (void)cgroup_write_at(fd, "cpu.max", "max");
        (void)cgroup_write_at(fd, "cgroup.kill", "1");
        (void)cgroup_write_at(fd, "cgroup.freeze", "0");
}

void cgroup_v2_remove(const struct cgroup_host *h, const char *id)
{
        char path[4096];
        int r;

        /* Normally empty already: pid 1 died, and its pid namespace with it. */
        cgroup_v2_kill(h, id);
        if (cgroup_path(path, sizeof(path), h->v2_parent, id) < 0)
                return;
        r = cgroup_rmdir_retry(path);
        if (r < 0)
                log_warning_errno(r, "sandbox=%s: cannot remove cgroup %s, ignoring: %m", id, path);
}

int cgroup_v2_freeze(const struct cgroup_host *h, const char *id, bool frozen, struct nb_error *err)
{
        const char *want = frozen ? "frozen 1" : "frozen 0";
        _cleanup_close_ int fd = -EBADF;
        char events[512];
        int r;

        fd = v2_open(h, id);
        if (fd < 0)
                return nb_error_set_errno(err, fd, "cannot open the cgroup of sandbox '%s'", id);
        r = cgroup_write_at(fd, "cgroup.freeze", frozen ? "1" : "0");
        if (r == -ENOENT)
                return nb_error_set(err, -EOPNOTSUPP, "this kernel has no cgroup v2 freezer (needs 5.2)");
        if (r < 0)
                return nb_error_set_errno(err, r, "cannot write cgroup.freeze of sandbox '%s'", id);
        /* cgroup.events reports "frozen 1" once every task has stopped. */
        for (unsigned i = 0; i < 2000; i++) {
                struct timespec ts = {0, 1000000L};

                r = cgroup_read_at(fd, "cgroup.events", events, sizeof(events));
                if (r < 0)
                        return nb_error_set_errno(err, r, "cannot read cgroup.events of sandbox '%s'", id);
                if (strstr(events, want))
                        return 0;
                nanosleep(&ts, NULL);
        }
        return nb_error_set(err, -ETIMEDOUT, "sandbox '%s' did not report '%s' within 2s", id, want);
}

/* cpu.stat's usage_usec is there without the cpu controller; memory.* only with it. */
int cgroup_v2_usage(const struct cgroup_host *h, const char *id, struct sandbox_usage *ret)
{
        _cleanup_close_ int fd = -EBADF;
        uint64_t usec = 0;
        char buf[64];

        fd = v2_open(h, id);
        if (fd < 0)
                return fd;
        if (cgroup_read_key_at(fd, "cpu.stat", "usage_usec", &usec) >= 0)
                ret->cpu_ns = usec * 1000;
        if (cgroup_read_at(fd, "memory.current", buf, sizeof(buf)) >= 0) {
                ret->memory_bytes = strtoull(buf, NULL, 10);
                (void)cgroup_read_key_at(fd, "memory.stat", "file", &ret->memory_cache);
                (void)cgroup_read_key_at(fd, "memory.stat", "inactive_file", &ret->memory_inactive_file);
        }
        return 0;
}
