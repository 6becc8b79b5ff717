/* Stat, MakeDir, Move, ListDir, Remove (see fs-rpc.h). Messages follow envd's
 * wording; codes follow envd except where its Go error classes would turn a
 * missing path into `internal` (ENOTDIR below a file is not_found here, so
 * files.exists() answers false instead of throwing). */
#include "fs-rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs-entry.h"
#include "fs-path.h"
#include "fs-tree.h"
#include "log.h"
#include "macro.h"
#include "watch-rpc.h"

static void msg_freep(void *p)
{
        ProtobufCMessage **m = p;

        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}
#define _cleanup_msg_ _cleanup_(msg_freep)

static void entry_freep(Filesystem__EntryInfo **e)
{
        *e = fs_entry_free(*e);
}

enum connect_code fs_rpc_code(int r)
{
        switch (-r) {
        case ENOENT:
        case ENOTDIR:
                return CONNECT_NOT_FOUND;
        case EINVAL:
        case ENAMETOOLONG:
        case ELOOP:
        case EISDIR:
        case ENOTEMPTY:
        case EXDEV:
                return CONNECT_INVALID_ARGUMENT;
        case EACCES:
        case EPERM:
                return CONNECT_PERMISSION_DENIED;
        case ENOSPC:
        case EDQUOT:
        case E2BIG:
        case ENOMEM:
                return CONNECT_RESOURCE_EXHAUSTED;
        case EBUSY:
                return CONNECT_FAILED_PRECONDITION;
        default:
                return CONNECT_INTERNAL;
        }
}

int fs_rpc_user_path(struct rpc *r, const char *path, struct user *ret_user, char **ret_path)
{
        struct agent *a = r->c->agent;
        struct nb_error err = {0};
        enum connect_code code;
        struct user u = {0};
        int k;

        k = fs_request_user(a, conn_header(r->c, "authorization"), NULL, &u, &code, &err);
        if (k < 0) {
                rpc_error(r, code, "%s", err.message);
                return k;
        }
        k = fs_path_resolve(path, u.home, a->default_workdir, ret_path, &err);
        if (k < 0) {
                user_done(&u);
                rpc_error(r, k == -ENOMEM ? CONNECT_RESOURCE_EXHAUSTED : CONNECT_INVALID_ARGUMENT, "%s", err.message);
                return k;
        }
        *ret_user = u;
        return 0;
}

/* Answers an entry lookup failure for path. */
static void entry_error(struct rpc *r, int k, const char *what, const char *path)
{
        if (k == -ENOENT || k == -ENOTDIR)
                return rpc_error(r, CONNECT_NOT_FOUND, "%s not found: '%.256s' does not exist", what, path);
        rpc_error(r, fs_rpc_code(k), "error getting file info of '%.256s': %s", path, strerror(-k));
}

static void rpc_stat(struct conn *c)
{
        _cleanup_msg_ Filesystem__StatRequest *req = NULL;
        _cleanup_(entry_freep) Filesystem__EntryInfo *e = NULL;
        Filesystem__StatResponse resp = FILESYSTEM__STAT_RESPONSE__INIT;
        _cleanup_free_ char *path = NULL;
        struct user u = {0};
        struct rpc r;
        int k;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &filesystem__stat_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        if (fs_rpc_user_path(&r, req->path, &u, &path) < 0)
                return;
        user_done(&u);
        k = fs_entry_path(c->agent, path, &e);
        if (k < 0)
                return entry_error(&r, k, "file", path);
        resp.entry = e;
        rpc_reply(&r, &resp.base);
}

static void rpc_make_dir(struct conn *c)
{
        _cleanup_msg_ Filesystem__MakeDirRequest *req = NULL;
        _cleanup_(entry_freep) Filesystem__EntryInfo *e = NULL;
        Filesystem__MakeDirResponse resp = FILESYSTEM__MAKE_DIR_RESPONSE__INIT;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct nb_error err = {0};
        struct user u = {0};
        struct stat st;
        struct rpc r;
        int k;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &filesystem__make_dir_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        if (fs_rpc_user_path(&r, req->path, &u, &path) < 0)
                return;
        /* envd stats first (following symlinks): what exists decides the answer. */
        fd = fs_open(path, O_PATH, 0, 0);
        if (fd >= 0) {
                k = fstat(fd, &st) < 0 ? -errno : 0;
                user_done(&u);
                if (k < 0)
                        return rpc_error(&r, CONNECT_INTERNAL, "error getting file info: %s", strerror(-k));
                if (S_ISDIR(st.st_mode))
                        return rpc_error(&r, CONNECT_ALREADY_EXISTS, "directory already exists: %.256s", path);
                return rpc_error(&r, CONNECT_INVALID_ARGUMENT,
                                 "path already exists but it is not a directory: %.256s", path);
        }
        if (fd != -ENOENT) {
                user_done(&u);
                return rpc_error(&r, fd == -ENOTDIR ? CONNECT_INVALID_ARGUMENT : fs_rpc_code(fd),
                                 "error getting file info of '%.256s': %s", path, strerror(-fd));
        }
        fd = fs_mkdir_p(path, u.uid, u.gid, &err);
        user_done(&u);
        if (fd < 0)
                return rpc_error(&r, fd == -ENOTDIR ? CONNECT_INVALID_ARGUMENT : fs_rpc_code(fd), "%s", err.message);
        k = fs_entry_path(c->agent, path, &e);
        if (k < 0)
                return entry_error(&r, k, "directory", path);
        resp.entry = e;
        rpc_reply(&r, &resp.base);
}

static void rpc_move(struct conn *c)
{
        _cleanup_msg_ Filesystem__MoveRequest *req = NULL;
        _cleanup_(entry_freep) Filesystem__EntryInfo *e = NULL;
        Filesystem__MoveResponse resp = FILESYSTEM__MOVE_RESPONSE__INIT;
        _cleanup_free_ char *src = NULL, *dst = NULL, *dst_parent = NULL;
        _cleanup_close_ int sfd = -EBADF, dfd = -EBADF;
        struct nb_error err = {0};
        const char *sbase;
        struct user u = {0};
        struct rpc r;
        int k;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &filesystem__move_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        if (fs_rpc_user_path(&r, req->source, &u, &src) < 0)
                return;
        k = fs_path_resolve(req->destination, u.home, c->agent->default_workdir, &dst, &err);
        if (k < 0) {
                user_done(&u);
                return rpc_error(&r, CONNECT_INVALID_ARGUMENT, "%s", err.message);
        }
        if (strcmp(src, "/") == 0 || strcmp(dst, "/") == 0) {
                user_done(&u);
                return rpc_error(&r, CONNECT_INVALID_ARGUMENT, "cannot move the root directory");
        }
        if (fs_path_parent(dst, &dst_parent) < 0) {
                user_done(&u);
                return rpc_error(&r, CONNECT_RESOURCE_EXHAUSTED, "out of memory");
        }
        /* Destination parents are created (owned by the user), as envd does. */
        dfd = fs_mkdir_p(dst_parent, u.uid, u.gid, &err);
        user_done(&u);
        if (dfd < 0)
                return rpc_error(&r, dfd == -ENOTDIR ? CONNECT_INVALID_ARGUMENT : fs_rpc_code(dfd), "%s", err.message);
        sfd = fs_open_parent(src, &sbase);
        if (sfd < 0)
                return rpc_error(&r, fs_rpc_code(sfd), "source file not found: '%.256s': %s", src, strerror(-sfd));
        /* Parents are fds now: the rename itself cannot be redirected by a swap. */
        if (renameat(sfd, sbase, dfd, fs_path_base(dst)) < 0) {
                k = -errno;
                if (k == -ENOENT)
                        return rpc_error(&r, CONNECT_NOT_FOUND, "source file not found: '%.256s' does not exist", src);
                return rpc_error(&r, fs_rpc_code(k), "error renaming '%.200s' to '%.200s': %s", src, dst, strerror(-k));
        }
        k = fs_entry_path(c->agent, dst, &e);
        if (k < 0)
                return entry_error(&r, k, "file", dst);
        resp.entry = e;
        rpc_reply(&r, &resp.base);
}

static void rpc_list_dir(struct conn *c)
{
        _cleanup_msg_ Filesystem__ListDirRequest *req = NULL;
        Filesystem__ListDirResponse resp = FILESYSTEM__LIST_DIR_RESPONSE__INIT;
        _cleanup_free_ char *path = NULL, *resolved = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct nb_error err = {0};
        struct fs_list l = {0};
        struct user u = {0};
        struct stat st;
        unsigned depth;
        struct rpc r;
        int k;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &filesystem__list_dir_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        if (fs_rpc_user_path(&r, req->path, &u, &path) < 0)
                return;
        user_done(&u);
        depth = req->has_depth && req->depth > 0 ? req->depth : 1;
        /* The root may be a symlink to a directory; entries keep the requested path. */
        k = fs_path_eval(path, &resolved);
        if (k == -ELOOP)
                return rpc_error(&r, CONNECT_FAILED_PRECONDITION, "cyclic symlink or chain >255 links at '%.256s'",
                                 path);
        if (k == -ENOENT || k == -ENOTDIR)
                return rpc_error(&r, CONNECT_NOT_FOUND, "path not found: '%.256s' does not exist", path);
        if (k < 0)
                return rpc_error(&r, fs_rpc_code(k), "error resolving symlink '%.256s': %s", path, strerror(-k));
        fd = fs_open(resolved, O_PATH, 0, 0);
        if (fd < 0)
                return rpc_error(&r, fs_rpc_code(fd), "directory not found: '%.256s': %s", resolved, strerror(-fd));
        if (fstat(fd, &st) < 0)
                return rpc_error(&r, CONNECT_INTERNAL, "error getting file info: %s", strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return rpc_error(&r, CONNECT_INVALID_ARGUMENT, "path is not a directory: %.256s", resolved);
        k = fs_tree_list(c->agent, resolved, path, depth, &l, &err);
        if (k < 0)
                return rpc_error(&r, k == -E2BIG || k == -ENOMEM ? CONNECT_RESOURCE_EXHAUSTED : CONNECT_INTERNAL, "%s",
                                 err.message);
        resp.n_entries = l.n;
        resp.entries = l.v;
        rpc_reply(&r, &resp.base);
        fs_list_done(&l);
}

static void rpc_remove(struct conn *c)
{
        _cleanup_msg_ Filesystem__RemoveRequest *req = NULL;
        Filesystem__RemoveResponse resp = FILESYSTEM__REMOVE_RESPONSE__INIT;
        _cleanup_free_ char *path = NULL;
        struct nb_error err = {0};
        struct user u = {0};
        struct rpc r;
        int k;

        if (rpc_begin(c, false, &r) < 0 ||
            rpc_decode(&r, &filesystem__remove_request__descriptor, (ProtobufCMessage **)&req) < 0)
                return;
        if (fs_rpc_user_path(&r, req->path, &u, &path) < 0)
                return;
        user_done(&u);
        k = fs_tree_remove(path, &err);
        if (k < 0)
                return rpc_error(&r, k == -ENOTDIR ? CONNECT_INTERNAL : fs_rpc_code(k), "%s", err.message);
        rpc_reply(&r, &resp.base);
}

void fs_rpc_dispatch(struct conn *c, const char *method)
{
        static const struct {
                const char *name;
                void (*fn)(struct conn *c);
        } methods[] = {
                {"Stat", rpc_stat},
                {"MakeDir", rpc_make_dir},
                {"Move", rpc_move},
                {"ListDir", rpc_list_dir},
                {"Remove", rpc_remove},
                {"WatchDir", watch_rpc_watch_dir},
                {"CreateWatcher", watch_rpc_create},
                {"GetWatcherEvents", watch_rpc_get_events},
                {"RemoveWatcher", watch_rpc_remove},
        };

        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (strcmp(method, methods[i].name) == 0)
                        return methods[i].fn(c);
        /* connect-go answers an unknown procedure with a plain 404. */
        conn_reply_error(c, 404, "unknown procedure '%.128s'", c->path);
}
