/* WatchDir and the polling watchers (see watch-rpc.h), on watch.c. A WatchDir
 * stream stops reading inotify while its connection is congested; the
 * kernel queues meanwhile, and an overflow ends the stream with an error
 * rather than growing agent memory. */
#include "watch-rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs-entry.h"
#include "../wire/jsonstr.h"
#include "fs-path.h"
#include "fs-rpc.h"
#include "log.h"
#include "macro.h"
#include "random.h"
#include "rpc.h"
#include "stream.h"
#include "watch.h"

static void msg_freep(void *p)
{
        ProtobufCMessage **m = p;

        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}
#define _cleanup_msg_ _cleanup_(msg_freep)

/* protoc-c's *_INIT macros for messages with a oneof trip -Wmissing-braces. */
static Filesystem__WatchDirResponse watch_response_init(void)
{
        Filesystem__WatchDirResponse m;

        filesystem__watch_dir_response__init(&m);
        return m;
}

/* What one watch is about: its directory as resolved, and as the client named it. */
struct watch_target {
        char *resolved; /* symlinks resolved: what inotify watches */
        char *display;  /* the requested path: EntryInfo.path is relative to it */
};

static void target_done(struct watch_target *t)
{
        free(t->resolved);
        free(t->display);
        *t = (struct watch_target){0};
}

/* envd's checks before arming: the user, the path, a directory, not a network mount. */
static int resolve_target(struct rpc *r, const char *path, bool allow_network, struct watch_target *ret)
{
        _cleanup_free_ char *display = NULL, *resolved = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct nb_error err = {0};
        struct user u = {0};
        struct stat st;
        int k;

        if (fs_rpc_user_path(r, path, &u, &display) < 0)
                return -EINVAL;
        user_done(&u);
        k = fs_path_eval(display, &resolved);
        if (k == -ENOENT || k == -ENOTDIR) {
                rpc_error(r, CONNECT_NOT_FOUND, "path %.256s not found", display);
                return k;
        }
        if (k < 0) {
                rpc_error(r, fs_rpc_code(k), "error statting path %.256s: %s", display, strerror(-k));
                return k;
        }
        fd = fs_open(resolved, O_PATH, 0, 0);
        if (fd < 0 || fstat(fd, &st) < 0) {
                k = fd < 0 ? fd : -errno;
                rpc_error(r, k == -ENOENT ? CONNECT_NOT_FOUND : fs_rpc_code(k), "error statting path %.256s: %s",
                          display, strerror(-k));
                return k;
        }
        if (!S_ISDIR(st.st_mode)) {
                rpc_error(r, CONNECT_INVALID_ARGUMENT, "path %.256s not a directory", display);
                return -ENOTDIR;
        }
        if (!allow_network) {
                k = watch_check_network_mount(fd, display, &err);
                if (k < 0) {
                        rpc_error(r, k == -EINVAL ? CONNECT_INVALID_ARGUMENT : CONNECT_INTERNAL, "%s", err.message);
                        return k;
                }
        }
        *ret = (struct watch_target){.resolved = TAKE_PTR(resolved), .display = TAKE_PTR(display)};
        return 0;
}

/* A FilesystemEvent for one op; entry only where envd attaches one (CREATE,
 * WRITE, CHMOD) and only if the path can still be stat-ed. */
static Filesystem__FilesystemEvent *event_new(struct agent *a, const struct watch_target *t, const char *name,
                                              Filesystem__EventType type, bool include_entry)
{
        Filesystem__FilesystemEvent *ev = malloc(sizeof(*ev));

        if (!ev)
                return NULL;
        filesystem__filesystem_event__init(ev);
        ev->name = utf8_sanitize(name);
        ev->type = type;
        ev->has_type = true;
        if (!ev->name) {
                protobuf_c_message_free_unpacked(&ev->base, NULL);
                return NULL;
        }
        if (include_entry && (type == FILESYSTEM__EVENT_TYPE__EVENT_TYPE_CREATE ||
                              type == FILESYSTEM__EVENT_TYPE__EVENT_TYPE_WRITE ||
                              type == FILESYSTEM__EVENT_TYPE__EVENT_TYPE_CHMOD)) {
                _cleanup_free_ char *real = NULL, *display = NULL;
                _cleanup_close_ int dirfd = -EBADF;
                bool self = strcmp(name, ".") == 0;
                const char *base;

                if ((self ? (real = strdup(t->resolved)) != NULL : fs_path_join(t->resolved, name, &real) >= 0) &&
                    (self ? (display = strdup(t->display)) != NULL : fs_path_join(t->display, name, &display) >= 0)) {
                        dirfd = fs_open_parent(real, &base);
                        if (dirfd >= 0)
                                (void)fs_entry_at(a, dirfd, base, real, display, &ev->entry);
                }
        }
        return ev;
}

/* ---- WatchDir: one server stream per watch ---- */

struct watch_stream {
        struct conn *c;
        enum connect_codec codec;
        struct watch *w;
        struct watch_target t;
        bool include_entry;
        uint64_t keepalive_usec;
        struct loop_timer keepalive, deadline;
};

static void watch_stream_free(struct watch_stream *s)
{
        loop_timer_disarm(&s->keepalive);
        loop_timer_disarm(&s->deadline);
        watch_free(s->w);
        target_done(&s->t);
        free(s);
}

static void watch_stream_finish(struct watch_stream *s, enum connect_code code, const char *message)
{
        struct conn *c = s->c;

        conn_clear_handler(c);
        rpc_stream_close(c, code, message);
        watch_stream_free(s);
}

static void watch_stream_arm_keepalive(struct watch_stream *s);

static void watch_stream_send(struct watch_stream *s, const Filesystem__WatchDirResponse *m)
{
        (void)rpc_stream_send(s->c, s->codec, &m->base);
        /* envd resets its keepalive ticker after every event it sends. */
        watch_stream_arm_keepalive(s);
        if (conn_pending(s->c) > CONN_HIGH_WATER)
                watch_pause(s->w, true);
}

static void watch_stream_keepalive(struct loop_timer *t)
{
        Filesystem__WatchDirResponse__KeepAlive ka = FILESYSTEM__WATCH_DIR_RESPONSE__KEEP_ALIVE__INIT;
        Filesystem__WatchDirResponse m = watch_response_init();

        m.event_case = FILESYSTEM__WATCH_DIR_RESPONSE__EVENT_KEEPALIVE;
        m.keepalive = &ka;
        watch_stream_send(t->userdata, &m);
}

static void watch_stream_arm_keepalive(struct watch_stream *s)
{
        loop_timer_arm(s->c->agent->loop, &s->keepalive, loop_now() + s->keepalive_usec, watch_stream_keepalive, s);
}

static void watch_stream_deadline(struct loop_timer *t)
{
        watch_stream_finish(t->userdata, CONNECT_DEADLINE_EXCEEDED, "context deadline exceeded");
}

static void watch_stream_event(struct watch *w, const char *name, Filesystem__EventType type, void *userdata)
{
        struct watch_stream *s = userdata;
        Filesystem__WatchDirResponse m = watch_response_init();
        Filesystem__FilesystemEvent *ev;

        ev = event_new(s->c->agent, &s->t, name, type, s->include_entry);
        if (!ev) {
                log_warning("Out of memory building a watch event, dropping it");
                return;
        }
        m.event_case = FILESYSTEM__WATCH_DIR_RESPONSE__EVENT_FILESYSTEM;
        m.filesystem = ev;
        watch_stream_send(s, &m);
        protobuf_c_message_free_unpacked(&ev->base, NULL);
}

static void watch_stream_failed(struct watch *w, enum connect_code code, const char *message, void *userdata)
{
        struct watch_stream *s = userdata;

        log_info("Watch of '%.128s' ended: %s", watch_dir(w), message);
        watch_stream_finish(s, code, message);
}

static const struct watch_ops watch_stream_ops = {
        .event = watch_stream_event,
        .failed = watch_stream_failed,
};

static void watch_stream_drained(struct conn *c)
{
        struct watch_stream *s = c->userdata;

        if (s && s->w)
                watch_pause(s->w, false);
}

static void watch_stream_aborted(struct conn *c, void *userdata)
{
        /* The client stopped watching (WatchHandle.stop()): drop the inotify watch. */
        watch_stream_free(userdata);
}

static const struct conn_handler watch_stream_handler = {
        .drained = watch_stream_drained,
        .aborted = watch_stream_aborted,
};

void watch_rpc_watch_dir(struct conn *c)
{
        _cleanup_msg_ Filesystem__WatchDirRequest *req = NULL;
        Filesystem__WatchDirResponse__StartEvent start = FILESYSTEM__WATCH_DIR_RESPONSE__START_EVENT__INIT;
        Filesystem__WatchDirResponse m = watch_response_init();
        const char *timeout = conn_header(c, "connect-timeout-ms");
        struct nb_error err = {0};
        struct watch_stream *s;
        uint64_t deadline_ms = 0;
        struct rpc r;
        int k;

        if (rpc_begin(c, true, &r) < 0 ||
            rpc_decode(&r, &filesystem__watch_dir_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        if (timeout && connect_parse_timeout_ms(timeout, &deadline_ms) < 0)
                return rpc_error(&r, CONNECT_INVALID_ARGUMENT, "invalid Connect-Timeout-Ms '%.32s'", timeout);
        s = calloc(1, sizeof(*s));
        if (!s)
                return rpc_error(&r, CONNECT_RESOURCE_EXHAUSTED, "out of memory");
        s->c = c;
        s->codec = r.codec;
        s->include_entry = req->has_include_entry && req->include_entry;
        s->keepalive_usec = stream_keepalive_from_header(conn_header(c, "keepalive-ping-interval"));
        if (resolve_target(&r, req->path, req->has_allow_network_mounts && req->allow_network_mounts, &s->t) < 0) {
                free(s);
                return;
        }
        k = watch_new(c->agent, s->t.resolved, req->has_recursive && req->recursive, &watch_stream_ops, s, &s->w, &err);
        if (k < 0) {
                target_done(&s->t);
                free(s);
                return rpc_error(&r, k == -ENOSPC ? CONNECT_RESOURCE_EXHAUSTED : fs_rpc_code(k), "%s", err.message);
        }
        conn_set_handler(c, &watch_stream_handler, s);
        /* Start goes out only now: the watch is armed, so nothing after it is missed. */
        m.event_case = FILESYSTEM__WATCH_DIR_RESPONSE__EVENT_START;
        m.start = &start;
        rpc_stream_open(c, r.codec);
        watch_stream_send(s, &m);
        if (deadline_ms > 0)
                loop_timer_arm(c->agent->loop, &s->deadline, loop_now() + deadline_ms * 1000, watch_stream_deadline, s);
}

/* ---- Polling watchers: CreateWatcher / GetWatcherEvents / RemoveWatcher ---- */

struct watcher {
        struct watcher *prev, *next;
        struct agent *agent;
        char id[24];
        struct watch *w;
        struct watch_target t;
        bool include_entry;
        Filesystem__FilesystemEvent **events;
        size_t n_events, cap_events;
        enum connect_code error_code; /* CONNECT_OK while healthy */
        char *error;
};

static struct watcher *watchers;
static size_t n_watchers;

static void watcher_clear_events(struct watcher *x)
{
        for (size_t i = 0; i < x->n_events; i++)
                protobuf_c_message_free_unpacked(&x->events[i]->base, NULL);
        free(x->events);
        x->events = NULL;
        x->n_events = x->cap_events = 0;
}

static void watcher_free(struct watcher *x)
{
        if (x->prev)
                x->prev->next = x->next;
        else
                watchers = x->next;
        if (x->next)
                x->next->prev = x->prev;
        n_watchers--;
        watch_free(x->w);
        watcher_clear_events(x);
        target_done(&x->t);
        free(x->error);
        free(x);
}

static void watcher_set_error(struct watcher *x, enum connect_code code, const char *message)
{
        if (x->error_code != CONNECT_OK)
                return;
        x->error_code = code;
        x->error = strdup(message);
}

static void watcher_event(struct watch *w, const char *name, Filesystem__EventType type, void *userdata)
{
        struct watcher *x = userdata;
        Filesystem__FilesystemEvent *ev;

        if (x->error_code != CONNECT_OK)
                return;
        if (x->n_events >= WATCHER_EVENTS_MAX) {
                /* Nobody fetches: stop here instead of growing without bound. */
                watcher_set_error(x, CONNECT_RESOURCE_EXHAUSTED,
                                  "watcher error: more than 65536 events were not fetched");
                watch_pause(w, true);
                return;
        }
        if (x->n_events == x->cap_events) {
                size_t cap = x->cap_events ? x->cap_events * 2 : 64;
                Filesystem__FilesystemEvent **v = realloc(x->events, cap * sizeof(*v));

                if (!v)
                        return watcher_set_error(x, CONNECT_RESOURCE_EXHAUSTED, "out of memory");
                x->events = v;
                x->cap_events = cap;
        }
        ev = event_new(x->agent, &x->t, name, type, x->include_entry);
        if (!ev)
                return watcher_set_error(x, CONNECT_RESOURCE_EXHAUSTED, "out of memory");
        x->events[x->n_events++] = ev;
}

static void watcher_failed(struct watch *w, enum connect_code code, const char *message, void *userdata)
{
        struct watcher *x = userdata;

        watcher_set_error(x, code, message);
        x->w = watch_free(x->w);
}

static const struct watch_ops watcher_ops = {
        .event = watcher_event,
        .failed = watcher_failed,
};

static struct watcher *watcher_find(const char *id)
{
        for (struct watcher *x = watchers; x; x = x->next)
                if (id && strcmp(x->id, id) == 0)
                        return x;
        return NULL;
}

void watch_rpc_create(struct conn *c)
{
        _cleanup_msg_ Filesystem__CreateWatcherRequest *req = NULL;
        Filesystem__CreateWatcherResponse resp = FILESYSTEM__CREATE_WATCHER_RESPONSE__INIT;
        struct nb_error err = {0};
        struct watcher *x;
        struct rpc r;
        int k;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &filesystem__create_watcher_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        if (n_watchers >= WATCHERS_MAX)
                return rpc_error(&r, CONNECT_RESOURCE_EXHAUSTED, "too many watchers (%d); remove some first",
                                 WATCHERS_MAX);
        x = calloc(1, sizeof(*x));
        if (!x)
                return rpc_error(&r, CONNECT_RESOURCE_EXHAUSTED, "out of memory");
        x->agent = c->agent;
        x->include_entry = req->has_include_entry && req->include_entry;
        x->id[0] = 'w';
        if (random_alnum(x->id + 1, 20) < 0) {
                free(x);
                return rpc_error(&r, CONNECT_INTERNAL, "cannot generate a watcher id");
        }
        if (resolve_target(&r, req->path, req->has_allow_network_mounts && req->allow_network_mounts, &x->t) < 0) {
                free(x);
                return;
        }
        k = watch_new(c->agent, x->t.resolved, req->has_recursive && req->recursive, &watcher_ops, x, &x->w, &err);
        if (k < 0) {
                target_done(&x->t);
                free(x);
                return rpc_error(&r, k == -ENOSPC ? CONNECT_RESOURCE_EXHAUSTED : fs_rpc_code(k), "%s", err.message);
        }
        x->next = watchers;
        if (watchers)
                watchers->prev = x;
        watchers = x;
        n_watchers++;
        resp.watcher_id = x->id;
        rpc_reply(&r, &resp.base);
}

void watch_rpc_get_events(struct conn *c)
{
        _cleanup_msg_ Filesystem__GetWatcherEventsRequest *req = NULL;
        Filesystem__GetWatcherEventsResponse resp = FILESYSTEM__GET_WATCHER_EVENTS_RESPONSE__INIT;
        struct watcher *x;
        struct rpc r;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &filesystem__get_watcher_events_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        x = watcher_find(req->watcher_id);
        if (!x)
                return rpc_error(&r, CONNECT_NOT_FOUND, "watcher with id %.64s not found",
                                 req->watcher_id ? req->watcher_id : "");
        if (x->error_code != CONNECT_OK)
                return rpc_error(&r, x->error_code, "%s", x->error ? x->error : "watcher failed");
        resp.n_events = x->n_events;
        resp.events = x->events;
        rpc_reply(&r, &resp.base);
        watcher_clear_events(x);
}

void watch_rpc_remove(struct conn *c)
{
        _cleanup_msg_ Filesystem__RemoveWatcherRequest *req = NULL;
        Filesystem__RemoveWatcherResponse resp = FILESYSTEM__REMOVE_WATCHER_RESPONSE__INIT;
        struct watcher *x;
        struct rpc r;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &filesystem__remove_watcher_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        x = watcher_find(req->watcher_id);
        if (!x)
                return rpc_error(&r, CONNECT_NOT_FOUND, "watcher with id %.64s not found",
                                 req->watcher_id ? req->watcher_id : "");
        watcher_free(x);
        rpc_reply(&r, &resp.base);
}
