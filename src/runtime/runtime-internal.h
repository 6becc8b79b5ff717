/* Internal interface between the files of the Linux-namespaces runtime.
 * Nothing outside src/runtime/ (and its unit tests) includes this file.
 *
 * Two kinds of code live here and must not be mixed up:
 *   - parent side (runtime.c, spawn.c, overlay.c, userns.c, cgroup*.c, seccomp.c
 *     build, rmrf.c): runs in the daemon's threads, may allocate and log at debug;
 *   - child side (functions named *_child_*): runs in the clone3()d child of a
 *     multi-threaded process before execve. It must not allocate, take locks or
 *     touch stdio: another thread may have held malloc's lock at clone time. It
 *     only reads memory the parent precomputed and makes raw syscalls. */
#pragma once

#include <linux/filter.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime.h"

#define RUNTIME_ID_MAX 32
#define RUNTIME_HOSTNAME_MAX 64
#define RUNTIME_LAYERS_MAX 128 /* overlayfs accepts 500; more means a broken template */

/* ---- cgroups ------------------------------------------------------------ */

enum cgroup_version {
        CGROUP_V1 = 1,
        CGROUP_V2 = 2,
};

/* v1 hierarchies the runtime uses, one directory each. The last two carry no limits:
 * on a hybrid host, systemd tracks a service's processes in name=systemd and the
 * unified hierarchy, and stopping the daemon's service would kill sandboxes still
 * listed there. Moving them out keeps sandboxes alive across daemon restarts. */
enum cgroup_v1_ctrl {
        CG_V1_CPU,
        CG_V1_MEMORY,
        CG_V1_PIDS,
        CG_V1_FREEZER,
        CG_V1_CPUACCT, /* usage only (metrics); often co-mounted with cpu */
        CG_V1_SYSTEMD,
        CG_V1_UNIFIED,
        _CG_V1_MAX,
};

/* v2 controllers nestbox enables in <root>/nestbox/cgroup.subtree_control. */
enum {
        CG_V2_CPU = 1 << 0,
        CG_V2_MEMORY = 1 << 1,
        CG_V2_PIDS = 1 << 2,
};

struct cgroup_limits {
        unsigned cpu_count;
        unsigned memory_mb;
        unsigned pids_max;
};

/* What runtime_new() found on the host; read-only afterwards (shared by threads). */
struct cgroup_host {
        enum cgroup_version version;
        char *v1_parent[_CG_V1_MAX]; /* <mount>/nestbox; NULL: controller not mounted */
        bool v1_shared[_CG_V1_MAX];  /* same hierarchy as an earlier controller (co-mounted) */
        char *v2_parent;             /* <root>/nestbox */
        unsigned v2_controllers;     /* CG_V2_* enabled for sandboxes */
};

int cgroup_host_probe(const char *root, struct cgroup_host *ret, struct nb_error *err);
void cgroup_host_done(struct cgroup_host *h);

/** Creates the sandbox's cgroup(s) and writes the limits. For v2, *ret_clone_fd is an
 *  O_PATH fd of the new cgroup for CLONE_INTO_CGROUP; for v1 it is -EBADF. */
int cgroup_create(const struct cgroup_host *h, const char *id, const struct cgroup_limits *limits,
                  int *ret_clone_fd, struct nb_error *err);
/** v1: moves pid into every hierarchy (v2 used CLONE_INTO_CGROUP and does nothing). */
int cgroup_attach(const struct cgroup_host *h, const char *id, pid_t pid, struct nb_error *err);
/** Lets the sandbox's processes die: thaws (frozen tasks cannot finish dying) and, on v2,
 *  writes cgroup.kill. Call after SIGKILLing pid 1. Missing files are fine. */
void cgroup_kill(const struct cgroup_host *h, const char *id);
/** Kills what is left (v2 cgroup.kill), thaws, and removes the directories; retries EBUSY
 *  briefly. Missing directories are fine. Logs other failures ", ignoring". */
void cgroup_remove(const struct cgroup_host *h, const char *id);
int cgroup_freeze(const struct cgroup_host *h, const char *id, bool frozen, struct nb_error *err);
int cgroup_usage(const struct cgroup_host *h, const char *id, struct sandbox_usage *ret);

/* Shared helpers (cgroup.c), also for sysctls (AT_FDCWD, absolute path). Values are short
 * strings; no trailing newline needed. */
int cgroup_write_at(int dirfd, const char *file, const char *value);
int cgroup_read_at(int dirfd, const char *file, char *buf, size_t size);
int cgroup_path(char *buf, size_t size, const char *parent, const char *id);
int cgroup_rmdir_retry(const char *path);
/** Reads the number after "key " in a flat-keyed file (memory.stat, cpu.stat). */
int cgroup_read_key_at(int dirfd, const char *file, const char *key, uint64_t *ret);

int cgroup_v1_probe(const char *root, struct cgroup_host *h, struct nb_error *err);
int cgroup_v1_create(const struct cgroup_host *h, const char *id, const struct cgroup_limits *limits,
                     struct nb_error *err);
int cgroup_v1_attach(const struct cgroup_host *h, const char *id, pid_t pid, struct nb_error *err);
void cgroup_v1_kill(const struct cgroup_host *h, const char *id);
void cgroup_v1_remove(const struct cgroup_host *h, const char *id);
int cgroup_v1_freeze(const struct cgroup_host *h, const char *id, bool frozen, struct nb_error *err);
int cgroup_v1_usage(const struct cgroup_host *h, const char *id, struct sandbox_usage *ret);

int cgroup_v2_probe(const char *root, struct cgroup_host *h, struct nb_error *err);
int cgroup_v2_create(const struct cgroup_host *h, const char *id, const struct cgroup_limits *limits,
                     int *ret_clone_fd, struct nb_error *err);
/** Writes cpu.max, memory.max (+ memory.swap.max 0 where present) and pids.max into the
 *  cgroup directory dirfd. Split out so unit tests can point it at a plain directory. */
int cgroup_v2_set_limits(int dirfd, unsigned controllers, const struct cgroup_limits *limits,
                         struct nb_error *err);
void cgroup_v2_kill(const struct cgroup_host *h, const char *id);
void cgroup_v2_remove(const struct cgroup_host *h, const char *id);
int cgroup_v2_freeze(const struct cgroup_host *h, const char *id, bool frozen, struct nb_error *err);
int cgroup_v2_usage(const struct cgroup_host *h, const char *id, struct sandbox_usage *ret);

/* ---- overlay root ----------------------------------------------------- */

/* ---- disk.c: each sandbox's writable layer on a filesystem of its own ---------- */

struct disk_host {
        char *dir;            /* <state>/disks: one empty image per disk size */
        int dir_fd;
        pthread_mutex_t lock; /* making a missing image, taking a loop device */
        bool available;       /* loop devices and ext4: else sandboxes write to host dirs */
        const char *why_not;
};
int disk_host_init(struct disk_host *h, const char *state_dir, struct nb_error *err);
void disk_host_done(struct disk_host *h);
/** Makes <sandbox dir>/disk.img (size_mb, ext4), mounts it detached on a loop device and
 *  returns the mount's fd, to keep open until overlay_mount() is done, and O_PATH fds of
 *  upper/ (owned by owner) and work/ in it. */
int disk_create(struct disk_host *h, int sandbox_dirfd, uint32_t size_mb, uid_t owner, int *ret_mnt,
                int *ret_upper, int *ret_work, struct nb_error *err);

struct overlay_host {
        bool lower_fds; /* fsconfig(FSCONFIG_SET_FD, "lowerdir+") works (6.13+) */
};

int overlay_probe(int scratch_dirfd, struct overlay_host *ret, struct nb_error *err);
/** Builds the sandbox root as a detached mount: each layer idmapped onto userns_fd
 *  (host ids 0..65535 -> the sandbox's range), overlayfs on top with the private
 *  upper/work dirs. Returns the fsmount() fd; nothing is attached in the host. */
int overlay_mount(const struct overlay_host *oh, const char *const *layers, int userns_fd, int upper_fd,
                  int work_fd, int *ret_mnt_fd, struct nb_error *err);

/* ---- user namespace ------------------------------------------------------ */

/** Writes "0 <uid_base> 65536" to uid_map and gid_map of the process behind proc_pid_fd
 *  (an O_PATH fd of /proc/<pid>). setgroups stays allowed: the writer is privileged. */
int userns_write_maps(int proc_pid_fd, uint32_t uid_base, struct nb_error *err);

/* ---- seccomp and capabilities ------------------------------------------- */

/** Compiles the sandbox filter once (libseccomp), into a plain BPF program the child can
 *  load without allocating. */
int seccomp_build(struct sock_fprog *ret, struct nb_error *err);
void seccomp_done(struct sock_fprog *prog);
int seccomp_child_load(const struct sock_fprog *prog);

uint64_t caps_default_keep(void);
int caps_last_cap(unsigned *ret, struct nb_error *err);
bool caps_have_effective(int cap);
int caps_child_drop_bounding(unsigned last_cap, uint64_t keep);

/* ---- the cloned child ---------------------------------------------------- */

/* Everything the child needs, computed by the parent before clone3. */
struct child_args {
        int exec_fd;   /* O_PATH of the agent binary */
        int listen_fd; /* becomes fd 3 */
        int log_fd;    /* becomes fd 2, or -EBADF for /dev/null */
        /* Filled in by spawn_sandbox(): */
        int sync_fd; /* SOCK_SEQPACKET to the parent: release (+ root mount fd) in, errors out */
        int keep_fds[4];
        unsigned n_keep;         /* keep_fds sorted, all >= 4 */
        const char *rootfs_path; /* <sandbox dir>/rootfs, where the overlay gets attached */
        const char *hostname;
        bool no_new_privs;
        const struct sock_fprog *seccomp;
        unsigned last_cap;
        uint64_t cap_keep;
        char *const *argv;
        char *const *envp;
};

/* What the child sends when it fails before exec: the parent turns it into nb_error. */
struct child_report {
        int32_t error; /* positive errno */
        char what[196];
};

/** Prepares the sandbox's mount namespace, with cwd and root switched to the overlay
 *  (mounts.c). On failure returns -errno and points *ret_what to a static description. */
int mounts_child_setup(int ovl_fd, int rootfs_fd, const char **ret_what);
int netns_child_loopback_up(void);

/** clone3()s the sandbox's pid 1 and drives it to execve (spawn.c). The pidfd and pid
 *  are stored as soon as the child exists, even on failure, so the caller can kill it.
 *  child->exec_fd/listen_fd/log_fd must be >= 4 (fd_above_stdio); the caller owns them. */
struct spawn_params {
        struct child_args *child;
        uint32_t uid_base;
        int cgroup_fd; /* v2: CLONE_INTO_CGROUP target, else -EBADF */
        const struct cgroup_host *cgroups;
        const char *id;
        const struct overlay_host *overlay;
        const char *const *layers;
        int upper_fd, work_fd;
};
/** Takes fd and returns it, or a CLOEXEC duplicate >= 4 when it is 0..3 (-errno on failure;
 *  fd is closed either way). Fds handed to the child must be >= 4. */
int fd_above_stdio(int fd);
int spawn_sandbox(const struct spawn_params *p, int *ret_pidfd, pid_t *ret_pid,
                  unsigned long long *ret_starttime, struct nb_error *err);

/* ---- processes and files -------------------------------------------------- */

/** "<dir>/<name>", malloc'd; NULL when out of memory. */
char *path_join(const char *dir, const char *name);

int proc_starttime(int proc_pid_fd, pid_t pid, unsigned long long *ret);
/** Waits until fd has one of `events` (poll(2) bits), retrying on EINTR. Returns 0,
 *  -ETIMEDOUT after timeout_ms (< 0: none), or -errno. */
int poll_one(int fd, short events, int timeout_ms);
/** Waits until the process behind pidfd has exited (poll), then reaps it if it is our
 *  child. timeout_ms < 0 waits forever; -ETIMEDOUT otherwise. */
int pidfd_wait_exit(int pidfd, int timeout_ms);
/** Removes name below dirfd recursively without following symlinks or crossing mounts,
 *  with O(1) fds and stack whatever the depth (the tree belongs to a sandbox and may be
 *  hostile). -ENOENT when name does not exist. */
int rm_rf_at(int dirfd, const char *name);
/** Sums the allocated size (st_blocks) of name below dirfd and everything in it, never
 *  following symlinks or leaving its file system; stops after max_entries entries. */
int tree_usage(int dirfd, const char *name, uint64_t max_entries, uint64_t *ret_bytes, bool *ret_complete);
