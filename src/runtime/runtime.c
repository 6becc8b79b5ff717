/* The Linux-namespaces runtime behind runtime.h: host probing at runtime_new(), and
 * the life of a sandbox (create, adopt, destroy) built from the other files here.
 *
 * Per sandbox on the host: <state>/sandboxes/<id>/{disk.img,rootfs,agent.sock,agent.log}
 * (or {upper,work,...} when the spec asks for no disk of its own), a loop device
 * (disk.c) and its cgroup(s); nothing in the host's mount namespace. The handle
 * keeps only a pidfd and strings, so thousands of sandboxes cost no other fds.
 * struct runtime is read-only after runtime_new(): threads share it without locks,
 * and it must outlive the sandbox handles made from it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../base/log.h"
#include "net-internal.h"
#include "runtime-internal.h"

#define AGENT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DESTROY_TIMEOUT_MS 10000

struct runtime {
        char *sandboxes_dir; /* <state>/sandboxes */
        int sandboxes_fd;    /* O_PATH of sandboxes_dir */
        int agent_fd;        /* O_PATH of the agent binary, >= 4 (handed to every child) */
        struct cgroup_host cgroups;
        struct overlay_host overlay;
        struct sock_fprog seccomp;
        unsigned last_cap;
        uint64_t cap_keep;
        struct runtime_net net;
        struct disk_host disks;
};

struct runtime_sandbox {
        struct runtime *rt;
        char id[RUNTIME_ID_MAX + 1];
        uint32_t uid_base;
        pid_t pid;
        unsigned long long starttime;
        int pidfd;
        bool owns_dir;    /* <state>/sandboxes/<id> is ours to remove */
        bool owns_cgroup; /* so are its cgroups */
        bool egress;      /* it has egress rules (runtime_sandbox_set_network) to remove */
        char *dir;
        char *rootfs_path;
        struct sockaddr_un addr; /* agent.sock */
};

static char *const agent_argv[] = {(char *)"nestbox-agent", NULL};
static char *const agent_envp[] = {(char *)AGENT_PATH_ENV, NULL};

/* ---- host probing --------------------------------------------------------- */

static int check_kernel(struct nb_error *err)
{
        struct utsname u;
        unsigned major = 0, minor = 0;
        _cleanup_close_ int fd = -EBADF;
        char buf[32] = "";

        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
                return nb_error_set(err, -EOPNOTSUPP, "cannot tell the kernel version");
        if (major < 5 || (major == 5 && minor < 19))
                return nb_error_set(
                        err, -EOPNOTSUPP,
                        "kernel %.64s is too old: nestbox needs >= 5.19 (overlayfs over idmapped "
                        "layers)",
                        u.release);
        fd = open("/proc/sys/user/max_user_namespaces", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && atoi(buf) == 0)
                return nb_error_set(err, -EOPNOTSUPP,
                                    "user namespaces are disabled (user.max_user_namespaces = 0)");
        if (geteuid() != 0)
                return nb_error_set(err, -EPERM,
                                    "the namespaces runtime must run as root (it maps uid ranges)");
        return 0;
}

static int open_agent(const char *path, int *ret_fd, struct nb_error *err)
{
        struct stat st;
        int fd;

        fd = open(path, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot open the agent binary '%.128s'", path);
        fd = fd_above_stdio(fd);
        if (fd < 0)
                return nb_error_set_errno(err, fd, "cannot open the agent binary '%.128s'", path);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return nb_error_set(err, -EINVAL, "the agent '%.128s' is not a regular file", path);
        }
        /* It runs as the sandbox's root, which is "other" to a root-owned file. */
        if (!(st.st_mode & S_IXOTH)) {
                close(fd);
                return nb_error_set(err, -EACCES,
                                    "the agent '%.128s' must be executable by others (chmod o+x)", path);
        }
        *ret_fd = fd;
        return 0;
}

int runtime_new(const struct runtime_config *cfg, struct runtime **ret, struct nb_error *err)
{
        struct runtime *rt;
        int r;

        if (!cfg || !cfg->state_dir || cfg->state_dir[0] != '/' || !cfg->agent_path ||
            cfg->agent_path[0] != '/')
                return nb_error_set(err, -EINVAL,
                                    "runtime: state_dir and agent_path must be absolute paths");
        r = check_kernel(err);
        if (r < 0)
                return r;

        rt = calloc(1, sizeof(*rt));
        if (!rt)
                return nb_error_oom(err);
        rt->sandboxes_fd = rt->agent_fd = rt->disks.dir_fd = -EBADF;

        rt->sandboxes_dir = path_join(cfg->state_dir, "sandboxes");
        if (!rt->sandboxes_dir) {
                r = nb_error_oom(err);
                goto fail;
        }
        if (mkdir(cfg->state_dir, 0711) < 0 && errno != EEXIST) {
                r = nb_error_set_errno(err, -errno, "cannot create state dir '%.128s'", cfg->state_dir);
                goto fail;
        }
        if (mkdir(rt->sandboxes_dir, 0700) < 0 && errno != EEXIST) {
                r = nb_error_set_errno(err, -errno, "cannot create '%.128s'", rt->sandboxes_dir);
                goto fail;
        }
        rt->sandboxes_fd = open(rt->sandboxes_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rt->sandboxes_fd < 0) {
                r = nb_error_set_errno(err, -errno, "cannot open '%.128s'", rt->sandboxes_dir);
                goto fail;
        }
        r = disk_host_init(&rt->disks, cfg->state_dir, err);
        if (r < 0)
                goto fail;
        r = open_agent(cfg->agent_path, &rt->agent_fd, err);
        if (r < 0)
                goto fail;
        r = cgroup_host_probe(cfg->cgroup_root, &rt->cgroups, err);
        if (r < 0)
                goto fail;
        r = overlay_probe(rt->sandboxes_fd, &rt->overlay, err);
        if (r < 0)
                goto fail;
        r = caps_last_cap(&rt->last_cap, err);
        if (r < 0)
                goto fail;
        rt->cap_keep = caps_default_keep();
        r = seccomp_build(&rt->seccomp, err);
        if (r < 0)
                goto fail;
        /* Not fatal (the sandbox itself is as isolated), but the operator should know. */
        if (!caps_have_effective(CAP_SYS_RESOURCE))
                log_warning(
                        "runtime: no CAP_SYS_RESOURCE, so sandbox agents cannot get oom_score_adj -1000; "
                        "an out-of-memory sandbox may lose its agent");
        log_debug("runtime: cgroup v%d, overlay layers by %s", rt->cgroups.version,
                  rt->overlay.lower_fds ? "fd" : "path");
        r = runtime_net_init(&rt->net, cfg->subnet, err);
        if (r < 0)
                goto fail;
        *ret = rt;
        return 0;
fail:
        runtime_free(rt);
        return r;
}

struct runtime *runtime_free(struct runtime *rt)
{
        if (!rt)
                return NULL;
        safe_close(rt->sandboxes_fd);
        safe_close(rt->agent_fd);
        cgroup_host_done(&rt->cgroups);
        seccomp_done(&rt->seccomp);
        disk_host_done(&rt->disks);
        free(rt->sandboxes_dir);
        free(rt);
        return NULL;
}

/* ---- sandbox handles -------------------------------------------------------- */

static int validate_id(const char *id, struct nb_error *err)
{
        size_t n = id ? strlen(id) : 0;

        if (n == 0 || n > RUNTIME_ID_MAX || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
                return nb_error_set(err, -EINVAL, "sandbox id '%.40s' must be 1-%d characters of [a-z0-9]",
                                    id ? id : "", RUNTIME_ID_MAX);
        return 0;
}

static int validate_uid_base(uint32_t uid_base, struct nb_error *err)
{
        /* Never map host ids below 65536 (host root, system and login users) into a sandbox,
         * and keep the range clear of (uid_t)-1. */
        if (uid_base < RUNTIME_UID_RANGE || uid_base > UINT32_MAX - 2 * RUNTIME_UID_RANGE)
                return nb_error_set(err, -EINVAL, "uid_base %u is outside [65536, 2^32 - 131072]", uid_base);
        return 0;
}

static int validate_spec(const struct sandbox_spec *spec, struct nb_error *err)
{
        size_t n;
        int r;

        r = validate_id(spec->id, err);
        if (r < 0)
                return r;
        r = validate_uid_base(spec->uid_base, err);
        if (r < 0)
                return r;
        n = spec->hostname ? strlen(spec->hostname) : 0;
        if (n == 0 || n > RUNTIME_HOSTNAME_MAX ||
            strspn(spec->hostname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != n)
                return nb_error_set(err, -EINVAL,
                                    "hostname '%.64s' must be 1-64 characters of [A-Za-z0-9.-]",
                                    spec->hostname ? spec->hostname : "");
        if (!spec->layers || !spec->layers[0])
                return nb_error_set(err, -EINVAL, "a sandbox needs at least one template layer");
        for (size_t i = 0; spec->layers[i]; i++) {
                if (i >= RUNTIME_LAYERS_MAX)
                        return nb_error_set(err, -E2BIG, "more than %d template layers", RUNTIME_LAYERS_MAX);
                if (spec->layers[i][0] != '/')
                        return nb_error_set(err, -EINVAL, "template layer '%.128s' is not an absolute path",
                                            spec->layers[i]);
        }
        return 0;
}

static void sandbox_free(struct runtime_sandbox *sb);

static int sandbox_new(struct runtime *rt, const char *id, uint32_t uid_base, struct runtime_sandbox **ret,
                       struct nb_error *err)
{
        struct runtime_sandbox *sb;
        int n;

        sb = calloc(1, sizeof(*sb));
        if (!sb)
                return nb_error_oom(err);
        sb->rt = rt;
        sb->pidfd = -EBADF;
        sb->uid_base = uid_base;
        memcpy(sb->id, id, strlen(id) + 1);
        sb->dir = path_join(rt->sandboxes_dir, id);
        sb->rootfs_path = sb->dir ? path_join(sb->dir, "rootfs") : NULL;
        if (!sb->rootfs_path) {
                sandbox_free(sb);
                return nb_error_oom(err);
        }
        sb->addr.sun_family = AF_UNIX;
        n = snprintf(sb->addr.sun_path, sizeof(sb->addr.sun_path), "%s/agent.sock", sb->dir);
        if (n < 0 || (size_t)n >= sizeof(sb->addr.sun_path)) {
                n = nb_error_set(err, -ENAMETOOLONG,
                                 "'%.128s/agent.sock' is longer than a unix socket path allows (107): use a "
                                 "shorter state dir",
                                 sb->dir);
                sandbox_free(sb);
                return n;
        }
        *ret = sb;
        return 0;
}

static void sandbox_free(struct runtime_sandbox *sb)
{
        safe_close(sb->pidfd);
        free(sb->rootfs_path);
        free(sb->dir);
        free(sb);
}

int runtime_sandbox_list_dirs(struct runtime *rt, char ***ret_ids, size_t *ret_n)
{
        _cleanup_close_ int fd = openat(rt->sandboxes_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char **ids = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return -errno;
        d = fdopendir(TAKE_FD(fd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char **grown;

                if (de->d_type != DT_DIR || validate_id(de->d_name, NULL) < 0)
                        continue;
                grown = realloc(ids, (n + 1) * sizeof(*ids));
                if (!grown || !(grown[n] = strdup(de->d_name))) {
                        ids = grown ? grown : ids;
                        for (size_t i = 0; i < n; i++)
                                free(ids[i]);
                        free(ids);
                        closedir(d);
                        return -ENOMEM;
                }
                ids = grown;
                n++;
        }
        closedir(d);
        *ret_ids = ids;
        *ret_n = n;
        return 0;
}

struct runtime_sandbox *runtime_sandbox_forget(struct runtime_sandbox *sb)
{
        if (sb)
                sandbox_free(sb);
        return NULL;
}

/* The one teardown path: after a failed create, on destroy, for adopted sandboxes.
 * Accepts half-built sandboxes; failures are logged and ignored. */
static void sandbox_teardown(struct runtime_sandbox *sb)
{
        struct runtime *rt = sb->rt;
        int r;

        if (sb->pidfd >= 0) {
                /* pid 1 dies, and the kernel kills its whole pid namespace with it. */
                if (pidfd_send_signal(sb->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                        log_warning_errno(-errno, "sandbox=%s: cannot kill pid %d, ignoring: %m", sb->id,
                                          sb->pid);
                if (sb->owns_cgroup)
                        cgroup_kill(&rt->cgroups, sb->id);
                r = pidfd_wait_exit(sb->pidfd, DESTROY_TIMEOUT_MS);
                if (r < 0)
                        log_warning_errno(r, "sandbox=%s: pid %d did not exit, ignoring: %m", sb->id,
                                          sb->pid);
                sb->pidfd = safe_close(sb->pidfd);
        }
        if (sb->owns_cgroup)
                cgroup_remove(&rt->cgroups, sb->id);
        /* The pair goes with the namespace; its chain, keyed by name, may outlive it. */
        if (sb->egress)
                runtime_net_remove_egress(&rt->net, sb->id);
        if (sb->owns_dir) {
                r = rm_rf_at(rt->sandboxes_fd, sb->id);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "sandbox=%s: cannot remove %s, ignoring: %m", sb->id, sb->dir);
        }
}

/* ---- create ----------------------------------------------------------------- */

static int make_dirs(struct runtime *rt, struct runtime_sandbox *sb, unsigned disk_mb, int *ret_disk,
                     int *ret_upper, int *ret_work, struct nb_error *err)
{
        _cleanup_close_ int dfd = -EBADF, upper = -EBADF, work = -EBADF;

        if (mkdirat(rt->sandboxes_fd, sb->id, 0700) < 0) {
                if (errno == EEXIST)
                        return nb_error_set(err, -EEXIST, "sandbox '%s' already exists on this host",
                                            sb->id);
                return nb_error_set_errno(err, -errno, "cannot create '%.128s'", sb->dir);
        }
        sb->owns_dir = true;
        dfd = openat(rt->sandboxes_fd, sb->id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return nb_error_set_errno(err, -errno, "cannot open '%.128s'", sb->dir);
        if (disk_mb > 0 && rt->disks.available) {
                if (mkdirat(dfd, "rootfs", 0700) < 0)
                        return nb_error_set_errno(err, -errno, "cannot create the directories of '%.128s'",
                                                  sb->dir);
                return disk_create(&rt->disks, dfd, disk_mb, sb->uid_base, ret_disk, ret_upper, ret_work, err);
        }
        /* upper/ is the root dir of the overlay: it must belong to root inside. */
        if (mkdirat(dfd, "upper", 0755) < 0 ||
            fchownat(dfd, "upper", sb->uid_base, sb->uid_base, AT_SYMLINK_NOFOLLOW) < 0 ||
            mkdirat(dfd, "work", 0700) < 0 || mkdirat(dfd, "rootfs", 0700) < 0)
                return nb_error_set_errno(err, -errno, "cannot create the directories of '%.128s'", sb->dir);
        upper = openat(dfd, "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        work = openat(dfd, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0 || work < 0)
                return nb_error_set_errno(err, -errno, "cannot open the directories of '%.128s'", sb->dir);
        *ret_upper = TAKE_FD(upper);
        *ret_work = TAKE_FD(work);
        return 0;
}

static int make_socket(struct runtime_sandbox *sb, int *ret_fd, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot create the agent socket");
        if (bind(fd, (const struct sockaddr *)&sb->addr, sizeof(sb->addr)) < 0)
                return nb_error_set_errno(err, -errno, "cannot bind '%.128s'", sb->addr.sun_path);
        /* Connections queue here until the agent accept()s: the daemon may connect as soon
         * as create returns, before the agent reached its accept loop. */
        if (listen(fd, 128) < 0)
                return nb_error_set_errno(err, -errno, "cannot listen on '%.128s'", sb->addr.sun_path);
        fd = fd_above_stdio(TAKE_FD(fd));
        if (fd < 0)
                return nb_error_set_errno(err, fd, "cannot renumber the agent socket");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int open_log(struct runtime *rt, struct runtime_sandbox *sb, int *ret_fd, struct nb_error *err)
{
        char name[RUNTIME_ID_MAX + 16];
        int fd;

        snprintf(name, sizeof(name), "%s/agent.log", sb->id);
        fd = openat(rt->sandboxes_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
                    0600);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot create '%.128s/agent.log'", sb->dir);
        fd = fd_above_stdio(fd);
        if (fd < 0)
                return nb_error_set_errno(err, fd, "cannot renumber the agent log");
        *ret_fd = fd;
        return 0;
}

int runtime_sandbox_create(struct runtime *rt, const struct sandbox_spec *spec, struct runtime_sandbox **ret,
                           struct nb_error *err)
{
        _cleanup_close_ int disk = -EBADF, upper = -EBADF, work = -EBADF, listen_fd = -EBADF, log_fd = -EBADF,
                            cg_fd = -EBADF;
        struct cgroup_limits limits;
        struct runtime_sandbox *sb;
        int r;

        r = validate_spec(spec, err);
        if (r < 0)
                return r;
        r = sandbox_new(rt, spec->id, spec->uid_base, &sb, err);
        if (r < 0)
                return r;

        r = make_dirs(rt, sb, spec->disk_mb, &disk, &upper, &work, err);
        if (r < 0)
                goto fail;
        r = runtime_net_prepare(&rt->net, spec, upper, err);
        if (r < 0)
                goto fail;
        r = make_socket(sb, &listen_fd, err);
        if (r < 0)
                goto fail;
        r = open_log(rt, sb, &log_fd, err);
        if (r < 0)
                goto fail;

        limits = (struct cgroup_limits){spec->cpu_count, spec->memory_mb, spec->pids_max};
        sb->owns_cgroup = true;
        r = cgroup_create(&rt->cgroups, sb->id, &limits, &cg_fd, err);
        if (r < 0)
                goto fail;

        struct child_args child = {
                .exec_fd = rt->agent_fd,
                .listen_fd = listen_fd,
                .log_fd = log_fd,
                .rootfs_path = sb->rootfs_path,
                .hostname = spec->hostname,
                .no_new_privs = spec->no_new_privs,
                .seccomp = &rt->seccomp,
                .last_cap = rt->last_cap,
                .cap_keep = rt->cap_keep,
                .argv = agent_argv,
                .envp = agent_envp,
        };
        struct spawn_params params = {
                .child = &child,
                .uid_base = spec->uid_base,
                .cgroup_fd = cg_fd,
                .cgroups = &rt->cgroups,
                .id = sb->id,
                .overlay = &rt->overlay,
                .layers = spec->layers,
                .upper_fd = upper,
                .work_fd = work,
        };
        r = spawn_sandbox(&params, &sb->pidfd, &sb->pid, &sb->starttime, err);
        if (r < 0)
                goto fail;
        if (runtime_net_wanted(&rt->net, spec)) {
                _cleanup_close_ int netns_fd = runtime_sandbox_open_netns(sb, err);

                r = netns_fd < 0 ? netns_fd : runtime_net_attach(&rt->net, spec, netns_fd, err);
                if (r < 0)
                        goto fail;
        }
        *ret = sb;
        return 0;
fail:
        nb_error_prefix(err, "sandbox '%s'", sb->id);
        sandbox_teardown(sb);
        sandbox_free(sb);
        return r;
}

/* ---- adopt, destroy, leftovers ---------------------------------------------- */

static int check_uid_map(pid_t pid, uint32_t uid_base)
{
        _cleanup_close_ int fd = -EBADF;
        unsigned inside, outside, count;
        char path[64], buf[256];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -EIO;
        buf[n] = 0;
        if (sscanf(buf, "%u %u %u", &inside, &outside, &count) != 3 || inside != 0 || outside != uid_base ||
            count != RUNTIME_UID_RANGE)
                return -ESRCH;
        return 0;
}

int runtime_sandbox_adopt(struct runtime *rt, const char *id, const struct sandbox_identity *identity,
                          uint32_t uid_base, struct runtime_sandbox **ret, struct nb_error *err)
{
        _cleanup_close_ int pidfd = -EBADF;
        unsigned long long starttime;
        struct runtime_sandbox *sb;
        int r;

        r = validate_id(id, err);
        if (r < 0)
                return r;
        if (!identity || identity->pid <= 1)
                return nb_error_set(err, -EINVAL, "sandbox '%s': no valid pid recorded", id);
        /* pidfd first, checks second: if the checks pass, the pidfd is the right process. */
        pidfd = pidfd_open(identity->pid, 0);
        if (pidfd < 0) {
                if (errno == ESRCH)
                        return nb_error_set(err, -ESRCH, "sandbox '%s': its pid 1 (%d) is gone", id,
                                            identity->pid);
                return nb_error_set_errno(err, -errno, "sandbox '%s': cannot open pid %d", id,
                                          identity->pid);
        }
        r = proc_starttime(-EBADF, identity->pid, &starttime);
        if (r == -ESRCH || (r == 0 && starttime != identity->starttime))
                return nb_error_set(err, -ESRCH, "sandbox '%s': its pid 1 (%d) is gone (pid reused)", id,
                                    identity->pid);
        if (r < 0)
                return nb_error_set_errno(err, r, "sandbox '%s': cannot read pid %d's start time", id,
                                          identity->pid);
        r = check_uid_map(identity->pid, uid_base);
        if (r < 0)
                return nb_error_set(err, -ESRCH,
                                    "sandbox '%s': pid %d is not this sandbox (uid map differs)", id,
                                    identity->pid);

        r = sandbox_new(rt, id, uid_base, &sb, err);
        if (r < 0)
                return r;
        sb->pid = identity->pid;
        sb->starttime = starttime;
        sb->pidfd = TAKE_FD(pidfd);
        sb->owns_dir = sb->owns_cgroup = true;
        *ret = sb;
        return 0;
}

int runtime_sandbox_destroy(struct runtime *rt, struct runtime_sandbox *sb, struct nb_error *err)
{
        if (!sb)
                return 0;
        sandbox_teardown(sb);
        sandbox_free(sb);
        return 0;
}

int runtime_sandbox_remove_leftovers(struct runtime *rt, const char *id, struct nb_error *err)
{
        int r;

        r = validate_id(id, err);
        if (r < 0)
                return r;
        cgroup_kill(&rt->cgroups, id);
        runtime_net_remove_leftover(&rt->net, id);
        cgroup_remove(&rt->cgroups, id);
        r = rm_rf_at(rt->sandboxes_fd, id);
        if (r < 0 && r != -ENOENT)
                return nb_error_set_errno(err, r, "sandbox '%s': cannot remove %s/%s", id, rt->sandboxes_dir,
                                          id);
        return 0;
}

int runtime_sandbox_disconnect(struct runtime_sandbox *sb, struct nb_error *err)
{
        _cleanup_close_ int netns_fd = runtime_sandbox_open_netns(sb, err);
        int r;

        if (netns_fd < 0)
                return netns_fd;
        r = runtime_net_cut(&sb->rt->net, sb->id, netns_fd, err);
        if (r < 0)
                return nb_error_prefix(err, "sandbox '%s'", sb->id);
        return 0;
}

int runtime_sandbox_set_network(struct runtime_sandbox *sb, uint32_t net_index, bool connect,
                                const struct runtime_egress *e, struct nb_error *err)
{
        _cleanup_close_ int netns_fd = -EBADF;
        int r;

        if (!sb->rt->net.host.enabled)
                return 0;
        if (connect) {
                netns_fd = runtime_sandbox_open_netns(sb, err);
                if (netns_fd < 0)
                        return netns_fd;
        }
        r = runtime_net_set(&sb->rt->net, sb->id, net_index, netns_fd, e, err);
        if (r < 0) {
                sb->egress = true; /* whatever the kernel was left with goes at destroy */
                return nb_error_prefix(err, "sandbox '%s'", sb->id);
        }
        sb->egress = r > 0;
        return 0;
}

/* ---- queries ---------------------------------------------------------------- */

bool runtime_sandbox_alive(struct runtime_sandbox *sb)
{
        struct pollfd pfd = {.fd = sb->pidfd, .events = POLLIN};

        if (sb->pidfd < 0)
                return false;
        return poll(&pfd, 1, 0) == 0;
}

const char *runtime_sandbox_socket_path(const struct runtime_sandbox *sb)
{
        return sb->addr.sun_path;
}

void runtime_sandbox_identity(const struct runtime_sandbox *sb, struct sandbox_identity *ret)
{
        ret->pid = sb->pid;
        ret->starttime = sb->starttime;
}

int runtime_sandbox_connect_agent(const struct runtime_sandbox *sb, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return nb_error_set_errno(err, -errno, "cannot create a socket");
        if (connect(fd, (const struct sockaddr *)&sb->addr, sizeof(sb->addr)) < 0)
                return nb_error_set_errno(err, -errno, "cannot connect to the agent of sandbox '%s'",
                                          sb->id);
        return TAKE_FD(fd);
}

int runtime_sandbox_open_netns(const struct runtime_sandbox *sb, struct nb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        char path[64];

        if (sb->pidfd < 0 || sb->pid <= 0)
                return nb_error_set(err, -ESRCH, "sandbox '%s' has no pid 1", sb->id);
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)sb->pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return nb_error_set_errno(err, errno == ENOENT ? -ESRCH : -errno,
                                          "cannot open the network namespace of sandbox '%s'", sb->id);
        /* If the pidfd's process still lives now, it held the pid when we opened the
         * path: the namespace is the sandbox's, not a later process's. */
        if (pidfd_send_signal(sb->pidfd, 0, NULL, 0) < 0)
                return nb_error_set(err, -ESRCH, "sandbox '%s': its pid 1 (%d) is gone", sb->id, (int)sb->pid);
        return TAKE_FD(fd);
}

int runtime_usage(struct runtime *rt, const char *id, struct sandbox_usage *ret)
{
        return cgroup_usage(&rt->cgroups, id, ret);
}

int runtime_disk_usage(struct runtime *rt, const char *id, pid_t pid, uint64_t max_entries, uint64_t *ret_bytes,
                       bool *ret_complete)
{
        char path[RUNTIME_ID_MAX + 16], root[32];
        struct statfs st;

        if (snprintf(path, sizeof(path), "%s/disk.img", id) >= (int)sizeof(path) || strchr(id, '/'))
                return -EINVAL;
        /* A disk of its own (disk.c): an overlay reports its upper filesystem's use, and
         * that filesystem is the sandbox's alone. */
        if (pid > 0 && faccessat(rt->sandboxes_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
                if (statfs(root, &st) < 0)
                        return -errno;
                *ret_bytes = (uint64_t)(st.f_blocks - st.f_bfree) * (uint64_t)st.f_frsize;
                *ret_complete = true;
                return 0;
        }
        snprintf(path, sizeof(path), "%s/upper", id);
        return tree_usage(rt->sandboxes_fd, path, max_entries, ret_bytes, ret_complete);
}

int runtime_open_log(struct runtime *rt, const char *id)
{
        char path[RUNTIME_ID_MAX + 16];
        int fd;

        if (snprintf(path, sizeof(path), "%s/agent.log", id) >= (int)sizeof(path) || strchr(id, '/'))
                return -EINVAL;
        fd = openat(rt->sandboxes_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int runtime_sandbox_memory_usage(const struct runtime_sandbox *sb, uint64_t *ret_bytes)
{
        struct sandbox_usage u;
        int r = cgroup_usage(&sb->rt->cgroups, sb->id, &u);

        if (r >= 0)
                *ret_bytes = u.memory_bytes;
        return r;
}

int runtime_sandbox_freeze(struct runtime_sandbox *sb, struct nb_error *err)
{
        return cgroup_freeze(&sb->rt->cgroups, sb->id, true, err);
}

int runtime_sandbox_thaw(struct runtime_sandbox *sb, struct nb_error *err)
{
        return cgroup_freeze(&sb->rt->cgroups, sb->id, false, err);
}
