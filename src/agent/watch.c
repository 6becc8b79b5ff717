/* inotify watches with fsnotify's semantics (see watch.h). One inotify fd per
 * watch keeps watches independent (a queue overflow fails one client only).
 * inotify_add_watch() takes a path; we give it "." after fchdir() to a
 * directory fd opened inside the root, so the kernel never resolves a client
 * path outside the sandbox. The agent is single-threaded, so borrowing the cwd
 * for one call is safe. */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fs-path.h"
#include "fs-tree.h"
#include "log.h"
#include "macro.h"

#define WATCH_MASK                                                                                               \
        (IN_CREATE | IN_MODIFY | IN_DELETE | IN_DELETE_SELF | IN_MOVED_TO | IN_MOVED_FROM | IN_MOVE_SELF |     \
         IN_ATTRIB | IN_ONLYDIR)
#define WATCH_READ_BUF (64u << 10)
#define WATCH_READS_PER_WAKEUP 16 /* then yield to other connections */
#define WATCH_MAX_LEVELS 256      /* recursive watches below this depth are not added */

struct wdir {
        int wd;
        char *rel; /* "" for the watched directory itself */
};

struct watch {
        struct agent *agent;
        int fd;
        struct loop_io io;
        char *dir;
        bool recursive;
        const struct watch_ops *ops;
        void *userdata;
        struct wdir *v; /* sorted by wd */
        size_t n, cap;
        int root_wd;
        bool paused, failed;
        uint8_t *buf;
        /* Names reported by the scan of a new directory. Its watch was added
         * before the scan, so a name created meanwhile is also in the inotify
         * queue: its CREATE is dropped once. Cleared whenever the queue is
         * empty, since by then every such event has been read. */
        char **scanned;
        size_t n_scanned;
};

static int cwd_fd = -EBADF;

static size_t wdir_find(const struct watch *w, int wd, bool *found)
{
        size_t lo = 0, hi = w->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (w->v[mid].wd < wd)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = lo < w->n && w->v[lo].wd == wd;
        return lo;
}

static struct wdir *wdir_get(struct watch *w, int wd)
{
        bool found;
        size_t i = wdir_find(w, wd, &found);

        return found ? &w->v[i] : NULL;
}

static void wdir_drop(struct watch *w, int wd)
{
        bool found;
        size_t i = wdir_find(w, wd, &found);

        if (!found)
                return;
        free(w->v[i].rel);
        memmove(&w->v[i], &w->v[i + 1], (w->n - i - 1) * sizeof(*w->v));
        w->n--;
}

static int wdir_put(struct watch *w, int wd, const char *rel)
{
        bool found;
        size_t i = wdir_find(w, wd, &found);
        char *copy = strdup(rel);

        if (!copy)
                return -ENOMEM;
        if (found) {
                /* Same inode seen again (moved back in): it now lives at rel. */
                free(w->v[i].rel);
                w->v[i].rel = copy;
                return 0;
        }
        if (w->n == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 16;
                struct wdir *v = realloc(w->v, cap * sizeof(*v));

                if (!v) {
                        free(copy);
                        return -ENOMEM;
                }
                w->v = v;
                w->cap = cap;
        }
        memmove(&w->v[i + 1], &w->v[i], (w->n - i) * sizeof(*w->v));
        w->v[i] = (struct wdir){.wd = wd, .rel = copy};
        w->n++;
        return 0;
}

/* Adds an inotify watch on the directory open as dfd. */
static int add_fd(struct watch *w, int dfd, const char *rel)
{
        int wd, r = 0;

        if (cwd_fd < 0) {
                cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (cwd_fd < 0)
                        cwd_fd = fs_root_fd() >= 0 ? fcntl(fs_root_fd(), F_DUPFD_CLOEXEC, 3) : -EBADF;
                if (cwd_fd < 0)
                        return -EBADF;
        }
        if (fchdir(dfd) < 0)
                return -errno;
        wd = inotify_add_watch(w->fd, ".", WATCH_MASK);
        if (wd < 0)
                r = -errno;
        if (fchdir(cwd_fd) < 0)
                log_warning_errno(-errno, "Failed to return to the agent's working directory, ignoring: %m");
        if (r < 0)
                return r;
        return wdir_put(w, wd, rel);
}

static void emit(struct watch *w, const char *name, Filesystem__EventType type)
{
        w->ops->event(w, name, type, w->userdata);
}

static void scanned_clear(struct watch *w)
{
        for (size_t i = 0; i < w->n_scanned; i++)
                free(w->scanned[i]);
        free(w->scanned);
        w->scanned = NULL;
        w->n_scanned = 0;
}

static void scanned_add(struct watch *w, const char *name)
{
        char **v = realloc(w->scanned, (w->n_scanned + 1) * sizeof(*v));

        if (!v)
                return; /* worst case: one duplicate CREATE */
        w->scanned = v;
        w->scanned[w->n_scanned] = strdup(name);
        if (w->scanned[w->n_scanned])
                w->n_scanned++;
}

/* True (and forgotten) when name was reported by a scan. */
static bool scanned_take(struct watch *w, const char *name)
{
        for (size_t i = 0; i < w->n_scanned; i++)
                if (strcmp(w->scanned[i], name) == 0) {
                        free(w->scanned[i]);
                        w->scanned[i] = w->scanned[--w->n_scanned];
                        return true;
                }
        return false;
}

static int join_rel(const char *rel, const char *name, char **ret)
{
        if (!rel[0])
                *ret = strdup(name);
        else if (asprintf(ret, "%s/%s", rel, name) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

/* Watches dfd (at rel) and, for recursive watches, every directory below it.
 * emit_creates: report what is already inside as CREATE events (a directory
 * that just appeared was filled before we could watch it). */
static int add_tree(struct watch *w, int dfd, const char *rel, bool emit_creates, unsigned level, struct nb_error *err)
{
        struct fs_dirnames ns = {0};
        int r;

        r = add_fd(w, dfd, rel);
        if (r < 0)
                return nb_error_set_errno(err, r, "error adding path '%.200s/%.200s' to the watcher", w->dir, rel);
        if (!w->recursive || level >= WATCH_MAX_LEVELS)
                return 0;
        r = fs_dirnames_read(dfd, &ns);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return nb_error_set_errno(err, r, "error reading '%.200s/%.200s'", w->dir, rel);
        for (size_t i = 0; i < ns.n && r >= 0; i++) {
                _cleanup_free_ char *child = NULL;
                _cleanup_close_ int cfd = -EBADF;
                struct stat st;

                if (fstatat(dfd, ns.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone already */
                r = join_rel(rel, ns.v[i], &child);
                if (r < 0) {
                        nb_error_oom(err);
                        break;
                }
                if (emit_creates) {
                        emit(w, child, FILESYSTEM__EVENT_TYPE__EVENT_TYPE_CREATE);
                        scanned_add(w, child);
                }
                if (!S_ISDIR(st.st_mode))
                        continue;
                cfd = fs_open_child(dfd, ns.v[i], O_RDONLY | O_DIRECTORY, 0, 0);
                if (cfd < 0)
                        continue; /* replaced meanwhile */
                r = add_tree(w, cfd, child, emit_creates, level + 1, err);
        }
        fs_dirnames_done(&ns);
        return r;
}

/* Forgets (and stops) the watches of rel and everything below it: a directory
 * moved away keeps its inotify watch, which would report stale names. */
static void drop_subtree(struct watch *w, const char *rel)
{
        size_t n = strlen(rel);

        for (size_t i = 0; i < w->n;) {
                const char *r = w->v[i].rel;

                if (strncmp(r, rel, n) == 0 && (r[n] == '\0' || r[n] == '/') && w->v[i].wd != w->root_wd) {
                        (void)inotify_rm_watch(w->fd, w->v[i].wd);
                        wdir_drop(w, w->v[i].wd);
                        continue;
                }
                i++;
        }
}

/* Marks the watch dead and tells its owner, who may free it: callers return at once. */
static void watch_fail(struct watch *w, enum connect_code code, const char *message)
{
        w->failed = true;
        loop_io_del(&w->io);
        w->ops->failed(w, code, message, w->userdata);
}

/* A directory appeared at rel (created, or moved in): watch it and below. */
static int follow_new_dir(struct watch *w, const char *rel, bool created, struct nb_error *err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (fs_path_join(w->dir, rel, &path) < 0)
                return nb_error_oom(err);
        fd = fs_open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, 0);
        if (fd < 0)
                return 0; /* gone or replaced by a non-directory already */
        return add_tree(w, fd, rel, created, 1, err);
}

/* One inotify event. Returns false when the watch failed (and may be freed). */
static bool handle_event(struct watch *w, const struct inotify_event *ev)
{
        static const struct {
                uint32_t mask;
                Filesystem__EventType type;
        } ops[] = {
                /* fsnotify's op bits, sent in envd's order. */
                {IN_CREATE | IN_MOVED_TO, FILESYSTEM__EVENT_TYPE__EVENT_TYPE_CREATE},
                {IN_MOVED_FROM | IN_MOVE_SELF, FILESYSTEM__EVENT_TYPE__EVENT_TYPE_RENAME},
                {IN_ATTRIB, FILESYSTEM__EVENT_TYPE__EVENT_TYPE_CHMOD},
                {IN_MODIFY, FILESYSTEM__EVENT_TYPE__EVENT_TYPE_WRITE},
                {IN_DELETE | IN_DELETE_SELF, FILESYSTEM__EVENT_TYPE__EVENT_TYPE_REMOVE},
        };
        _cleanup_free_ char *name = NULL;
        struct nb_error err = {0};
        bool seen_by_scan = false;
        struct wdir *d;
        int r;

        if (ev->mask & IN_Q_OVERFLOW) {
                watch_fail(w, CONNECT_INTERNAL, "watcher error: fsnotify: queue or buffer overflow");
                return false;
        }
        d = wdir_get(w, ev->wd);
        if (!d)
                return true; /* a watch we already dropped */
        if (ev->mask & (IN_IGNORED | IN_UNMOUNT)) {
                wdir_drop(w, ev->wd);
                return true;
        }
        if (ev->len == 0 || !ev->name[0]) {
                /* About a watched directory itself: its parent's watch reports it,
                 * except for the watched root. */
                if (ev->wd != w->root_wd)
                        return true;
                name = strdup(".");
        } else
                r = join_rel(d->rel, ev->name, &name);
        if (!name) {
                watch_fail(w, CONNECT_RESOURCE_EXHAUSTED, "out of memory");
                return false;
        }
        if (w->recursive && (ev->mask & IN_ISDIR) && (ev->mask & IN_MOVED_FROM))
                drop_subtree(w, name);

        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                if (!(ev->mask & ops[i].mask))
                        continue;
                if (w->n_scanned > 0 && scanned_take(w, name) &&
                    ops[i].type == FILESYSTEM__EVENT_TYPE__EVENT_TYPE_CREATE) {
                        seen_by_scan = true; /* reported, and followed if a directory, already */
                        continue;
                }
                emit(w, name, ops[i].type);
        }

        if (ev->wd == w->root_wd && (ev->mask & IN_MOVE_SELF)) {
                /* fsnotify drops a user watch whose directory moved: names would lie. */
                while (w->n > 0) {
                        (void)inotify_rm_watch(w->fd, w->v[0].wd);
                        wdir_drop(w, w->v[0].wd);
                }
                return true;
        }

        if (w->recursive && !seen_by_scan && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
            ev->len > 0) {
                r = follow_new_dir(w, name, (ev->mask & IN_CREATE) != 0, &err);
                if (r < 0) {
                        watch_fail(w, r == -ENOSPC ? CONNECT_RESOURCE_EXHAUSTED : CONNECT_INTERNAL, err.message);
                        return false;
                }
        }
        return true;
}

static void watch_io(struct loop_io *io, uint32_t events)
{
        struct watch *w = io->userdata;

        for (int round = 0; round < WATCH_READS_PER_WAKEUP && !w->paused; round++) {
                ssize_t k = read(w->fd, w->buf, WATCH_READ_BUF);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                scanned_clear(w);
                                return;
                        }
                        watch_fail(w, CONNECT_INTERNAL, "watcher error: cannot read inotify events");
                        return;
                }
                for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= k;) {
                        const struct inotify_event *ev = (const struct inotify_event *)(w->buf + off);

                        off += (ssize_t)sizeof(*ev) + ev->len;
                        if (off > k)
                                break;
                        if (!handle_event(w, ev))
                                return;
                }
        }
}

int watch_check_network_mount(int fd, const char *dir, struct nb_error *err)
{
        static const unsigned long network[] = {NFS_SUPER_MAGIC, CIFS_SUPER_MAGIC, SMB_SUPER_MAGIC, SMB2_SUPER_MAGIC,
                                                FUSE_SUPER_MAGIC};
        struct statfs sf;

        if (fstatfs(fd, &sf) < 0)
                return nb_error_set_errno(err, -errno, "error checking mount status of '%.256s'", dir);
        for (size_t i = 0; i < ELEMENTSOF(network); i++)
                if ((unsigned long)sf.f_type == network[i])
                        return nb_error_set(err, -EINVAL, "cannot watch path on network filesystem: %.256s", dir);
        return 0;
}

int watch_new(struct agent *a, const char *dir, bool recursive, const struct watch_ops *ops, void *userdata,
              struct watch **ret, struct nb_error *err)
{
        _cleanup_close_ int dfd = -EBADF;
        struct watch *w;
        int r;

        dfd = fs_open(dir, O_RDONLY | O_DIRECTORY, 0, 0);
        if (dfd < 0)
                return nb_error_set_errno(err, dfd, "cannot open directory '%.256s'", dir);
        w = calloc(1, sizeof(*w));
        if (!w)
                return nb_error_oom(err);
        *w = (struct watch){
                .agent = a,
                .fd = -EBADF,
                .recursive = recursive,
                .ops = ops,
                .userdata = userdata,
                .root_wd = -1,
        };
        w->io.fd = -1;
        w->dir = strdup(dir);
        w->buf = malloc(WATCH_READ_BUF);
        if (!w->dir || !w->buf) {
                watch_free(w);
                return nb_error_oom(err);
        }
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0) {
                r = -errno;
                watch_free(w);
                return nb_error_set_errno(err, r, "error creating watcher");
        }
        r = add_tree(w, dfd, "", false, 0, err);
        if (r < 0) {
                watch_free(w);
                return r;
        }
        /* add_tree() put the root first; wds only grow, so it is the smallest. */
        w->root_wd = w->v[0].wd;
        r = loop_io_add(a->loop, &w->io, w->fd, EPOLLIN, watch_io, w);
        if (r < 0) {
                watch_free(w);
                return nb_error_set_errno(err, r, "error creating watcher");
        }
        *ret = w;
        return 0;
}

void watch_pause(struct watch *w, bool paused)
{
        if (w->paused == paused || w->failed)
                return;
        w->paused = paused;
        (void)loop_io_set_events(&w->io, paused ? 0 : EPOLLIN);
}

const char *watch_dir(const struct watch *w)
{
        return w->dir;
}

struct watch *watch_free(struct watch *w)
{
        if (!w)
                return NULL;
        loop_io_del(&w->io);
        safe_close(w->fd);
        for (size_t i = 0; i < w->n; i++)
                free(w->v[i].rel);
        free(w->v);
        free(w->dir);
        free(w->buf);
        scanned_clear(w);
        free(w);
        return NULL;
}
