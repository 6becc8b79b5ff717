/* The runtime: the one narrow interface between the daemon and an isolation
 * backend. api/, router/ and lifecycle/ reach sandboxes only through this file.
 * The default backend is Linux namespaces (this folder); gVisor or Firecracker
 * would implement the same calls.
 *
 * A sandbox = user, pid, mount, uts, ipc, net and cgroup namespaces; root inside
 * maps to host uids [uid_base, uid_base + 65536); an overlayfs root (template
 * layers read-only + a private upper dir); cgroup limits; seccomp; bounded caps.
 * Its pid 1 is the agent, which inherits a listening unix socket as fd 3; the
 * daemon reaches it by connecting to runtime_sandbox_socket_path().
 *
 * Sandboxes do not depend on the daemon's process: after a restart (even kill -9)
 * runtime_sandbox_adopt() re-attaches to one from what the catalog recorded.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/error.h"

#define RUNTIME_UID_RANGE 65536u

struct runtime;
struct runtime_sandbox;

struct runtime_config {
        const char *state_dir;  /* absolute; the runtime owns <state_dir>/sandboxes/ */
        const char *agent_path; /* absolute path of the static nestbox-agent binary */
        const char *cgroup_root; /* optional (added by runtime): NULL = /sys/fs/cgroup, driven as v2 when it
                                  * holds cgroup.controllers, else as v1 controllers under it. Pointing it
                                  * at any cgroup2 mount forces v2 there (tests). */
        const char *subnet;      /* sandboxes' network, "10.88.0.0/16" (serve's --subnet): runtime_new()
                                  * sets up the host (bridge, forwarding, nftables) and writes each
                                  * sandbox's /etc/resolv.conf and /etc/hosts. "none": loopback only,
                                  * the host untouched, /etc written. NULL: neither (unit tests). */
};

struct sandbox_spec {
        const char *id;               /* [a-z0-9]{1,32}; names dirs and the cgroup */
        const char *hostname;         /* uts hostname inside */
        const char *const *layers;    /* template layer dirs on the host, top-most first, NULL-terminated */
        uint32_t uid_base;            /* first host uid/gid of this sandbox's own 65536 range */
        unsigned cpu_count;           /* 0 = no cpu limit */
        unsigned memory_mb;           /* 0 = no memory limit */
        unsigned pids_max;            /* 0 = no pids limit */
        unsigned disk_mb;             /* its writable layer's size (disk.c); 0 = a directory on the
                                       * state dir's filesystem, unbounded */
        bool no_new_privs;            /* off where the template needs setuid (sudo) */
        bool network;                 /* eth0 with a way out, when the runtime has a network; else
                                       * loopback only */
        uint32_t net_index;           /* its address: host number 2 + net_index of the subnet; unique
                                       * among the host's sandboxes (the uid slot) */
};

/* What the catalog keeps so a restarted daemon can find the sandbox again. */
struct sandbox_identity {
        pid_t pid;                   /* host pid of the sandbox's pid 1 */
        unsigned long long starttime; /* field 22 of /proc/<pid>/stat: tells pid reuse apart */
};

/** Probes the host (cgroup v1 or v2, overlayfs, idmapped mounts), creates
 *  <state_dir>/sandboxes and the nestbox cgroup parents. Needs root and kernel >= 5.19;
 *  fails with -EOPNOTSUPP and a message naming what the host lacks. */
int runtime_new(const struct runtime_config *cfg, struct runtime **ret, struct nb_error *err);
/** Frees the runtime only: running sandboxes are not touched (re-adopt them later).
 *  Sandbox handles keep a pointer to their runtime: free or forget them first. */
struct runtime *runtime_free(struct runtime *rt);

/** Creates and starts a sandbox; returns once its agent runs (the socket accepts
 *  connections; requests queue until the agent accept()s). On failure nothing is
 *  left behind. Safe to call from several threads at once. */
int runtime_sandbox_create(struct runtime *rt, const struct sandbox_spec *spec, struct runtime_sandbox **ret,
                           struct nb_error *err);

/** Re-attaches to a sandbox started by an earlier daemon. -ESRCH when its pid 1 is gone
 *  (or the pid was reused); the caller then calls runtime_sandbox_remove_leftovers(). */
int runtime_sandbox_adopt(struct runtime *rt, const char *id, const struct sandbox_identity *identity,
                          uint32_t uid_base, struct runtime_sandbox **ret, struct nb_error *err);

/** Kills every process of the sandbox, waits for them, and removes its mounts,
 *  cgroups, socket and directories. Frees sb. Idempotent with respect to the host:
 *  a half-built sandbox or one whose parts are already gone is fine. */
int runtime_sandbox_destroy(struct runtime *rt, struct runtime_sandbox *sb, struct nb_error *err);

/** Frees the handle and its fds WITHOUT stopping the sandbox: the daemon is exiting, or
 *  hands the sandbox to a later daemon that will runtime_sandbox_adopt() it. Accepts NULL;
 *  returns NULL. */
struct runtime_sandbox *runtime_sandbox_forget(struct runtime_sandbox *sb);

/** Ids of every sandbox directory under <state>/sandboxes (malloc'ed array of malloc'ed
 *  strings), so a starting daemon can find sandboxes the catalog does not know. */
int runtime_sandbox_list_dirs(struct runtime *rt, char ***ret_ids, size_t *ret_n);

/** Takes the sandbox's way out away: its veth pair goes down on both ends, so nothing
 *  passes and the sandbox has no route (connecting fails at once). A sandbox without one
 *  is fine. For a warm sandbox claimed by a create without internet access. */
int runtime_sandbox_disconnect(struct runtime_sandbox *sb, struct nb_error *err);

/* Egress rules (E2B's network.allowOut / denyOut): IPv4 ranges the sandbox may or may not
 * send to. Allowed ranges win over denied ones; with no denied range nothing is filtered. */
struct runtime_ip_range {
        uint32_t first, last; /* both included, host byte order */
};

struct runtime_egress {
        const struct runtime_ip_range *allow;
        size_t n_allow;
        const struct runtime_ip_range *deny;
        size_t n_deny;
};

/** Parses an IPv4 address ("8.8.8.8") or CIDR block ("8.8.8.0/24"; host bits are
 *  ignored, as Go's ParseCIDR does). -EAFNOSUPPORT for an IPv6 address or block, -EINVAL
 *  for anything else. */
int runtime_ip_range_parse(const char *text, struct runtime_ip_range *ret);

/** Sets the sandbox's way out and egress rules, replacing earlier ones in one nftables
 *  transaction. connect: make sure it has a way out (a pair made or brought up again, the
 *  rules in place before it carries anything); else a sandbox without one (cut at create)
 *  stays so and needs no rules. e == NULL or without denied ranges: no rules. net_index
 *  is the spec's. A runtime without a host network has nothing to do (loopback only is
 *  stricter than any rule). */
int runtime_sandbox_set_network(struct runtime_sandbox *sb, uint32_t net_index, bool connect,
                                const struct runtime_egress *e, struct nb_error *err);

/** Removes whatever a dead sandbox left on the host (dirs, cgroups, veth, egress rules)
 *  given only its id. */
int runtime_sandbox_remove_leftovers(struct runtime *rt, const char *id, struct nb_error *err);

/** True while the sandbox's pid 1 lives. */
bool runtime_sandbox_alive(struct runtime_sandbox *sb);

const char *runtime_sandbox_socket_path(const struct runtime_sandbox *sb);
void runtime_sandbox_identity(const struct runtime_sandbox *sb, struct sandbox_identity *ret);

/** Connects a new unix stream socket (SOCK_CLOEXEC) to the sandbox's agent. */
int runtime_sandbox_connect_agent(const struct runtime_sandbox *sb, struct nb_error *err);

/** Opens the sandbox's network namespace (an O_CLOEXEC fd of its pid 1's /proc/<pid>/ns/net,
 *  checked against the pidfd so a reused pid cannot hand over another namespace). The
 *  caller owns the fd; it keeps the namespace (not the sandbox) alive. -ESRCH when pid 1
 *  is gone. */
int runtime_sandbox_open_netns(const struct runtime_sandbox *sb, struct nb_error *err);

/** Connects to TCP `port` on the loopback of the network namespace netns_fd (127.0.0.1,
 *  then ::1 when that refuses), waiting at most timeout_ms. Only that namespace's loopback
 *  can be reached this way. Returns a blocking SOCK_CLOEXEC socket; -ECONNREFUSED when
 *  nothing listens, -ETIMEDOUT. */
int runtime_netns_connect_loopback(int netns_fd, uint16_t port, int timeout_ms, struct nb_error *err);

/** Current memory use of the sandbox's cgroup in bytes (for metrics and bench). */
int runtime_sandbox_memory_usage(const struct runtime_sandbox *sb, uint64_t *ret_bytes);

/* What a sandbox's cgroups have counted so far; 0 where the host lacks the controller. */
struct sandbox_usage {
        uint64_t cpu_ns;               /* CPU time of all its tasks since it started */
        uint64_t memory_bytes;         /* charged memory, page cache included */
        uint64_t memory_cache;         /* of which file-backed page cache */
        uint64_t memory_inactive_file; /* of which cache the kernel would reclaim first */
};

/** Reads the usage of sandbox `id` by name, so a sampler needs no handle that kill could
 *  free. -ENOENT when the sandbox's cgroups are gone. */
int runtime_usage(struct runtime *rt, const char *id, struct sandbox_usage *ret);

/** Bytes the sandbox has written to its own root (its overlay upper dir), counting at most
 *  max_entries entries; *ret_complete says whether the walk saw them all. */
int runtime_disk_usage(struct runtime *rt, const char *id, pid_t pid, uint64_t max_entries, uint64_t *ret_bytes,
                       bool *ret_complete);

/** Opens the log the sandbox's agent writes (lines of base/log.c's format), read-only.
 *  -ENOENT when the sandbox's directory is gone. */
int runtime_open_log(struct runtime *rt, const char *id);

/** Stops / resumes every process of the sandbox (cgroup freezer), for pause. */
int runtime_sandbox_freeze(struct runtime_sandbox *sb, struct nb_error *err);
int runtime_sandbox_thaw(struct runtime_sandbox *sb, struct nb_error *err);
