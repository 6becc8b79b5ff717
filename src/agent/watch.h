/* Directory watches on inotify, with envd's event semantics (fsnotify's
 * inotify backend, protocol.md §3.5): one inotify event becomes one callback
 * per op in the order CREATE, RENAME, CHMOD, WRITE, REMOVE; names are relative
 * to the watched directory ("." for the directory itself). Recursive watches
 * follow new and moved-in directories and report what a new directory already
 * holds when it is first seen (`mkdir -p a/b/c` yields a, a/b, a/b/c).
 * Watches are added through directory fds opened inside the sandbox root, so
 * no path given to inotify is resolved outside it. */
#pragma once

#include <stdbool.h>

#include "../wire/connect.h"
#include "agent.h"
#include "error.h"
#include "filesystem.pb-c.h"

struct watch;

struct watch_ops {
        /* One op on name (relative, NUL-terminated bytes, not necessarily UTF-8). */
        void (*event)(struct watch *w, const char *name, Filesystem__EventType type, void *userdata);
        /* The watch broke (queue overflow, a directory it cannot follow): no more
         * events come. The owner may free the watch inside this callback. */
        void (*failed)(struct watch *w, enum connect_code code, const char *message, void *userdata);
};

/** Watches the directory at the clean in-root path dir (already checked to be
 *  one). -ENOTDIR, -ENOSPC (inotify limits) and others with a message. */
int watch_new(struct agent *a, const char *dir, bool recursive, const struct watch_ops *ops, void *userdata,
              struct watch **ret, struct nb_error *err);

/** Stops reading events while the consumer is congested (the kernel queues
 *  them; an overflow fails the watch). */
void watch_pause(struct watch *w, bool paused);

/** The watched directory (clean, in-root). */
const char *watch_dir(const struct watch *w);

/** Stops and frees. NULL is fine. Never call it from ops->event. */
struct watch *watch_free(struct watch *w);

/** -EINVAL with a message when dir lies on NFS, CIFS/SMB or FUSE (envd refuses
 *  to watch those unless allowNetworkMounts). fd is any fd of the directory. */
int watch_check_network_mount(int fd, const char *dir, struct nb_error *err);
