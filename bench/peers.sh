#!/usr/bin/env bash
# The peers nestbox is measured against, on the same rootfs, as root:
#   (a) start to first output of `echo hi`: `crun run` of an OCI bundle, and
#       `bwrap --unshare-all --ro-bind <rootfs> / --proc /proc --dev /dev echo hi`
#   (b) round trip of `true`: `crun exec <running ctr> true`, and `bwrap ... true`
#   (c) idle memory: N `crun run -d` containers running `sleep infinity`
#       (sum of their memory cgroups and drop of MemAvailable, per container)
# Prints one JSON result line per figure (see stats.mjs) on stdout; progress on stderr.
#   bench/peers.sh ROOTFS            a root directory
#   bench/peers.sh LAYER1:LAYER2...  template layers, top-most first (overlaid read-only)
#   BENCH_RUNS_A (50) BENCH_RUNS_B (200) BENCH_IDLE (200): sample counts
#   BENCH_PEERS_PHASES ("a b c"): which figures to measure; "serve-a" instead
#     answers sdk.mjs's requests for single (a) runs on stdin/stdout (ttfb.mjs
#     --serve), so that (a) interleaves nestbox and its peers run by run.
# Every container it starts is named nbbench-<pid>-* and removed on exit. It runs in a
# private mount namespace (re-executing itself under unshare): its mounts vanish with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rootfs_arg=${1:?usage: bench/peers.sh ROOTFS | LAYER1:LAYER2...}
runs_a=${BENCH_RUNS_A:-50}
runs_b=${BENCH_RUNS_B:-200}
idle=${BENCH_IDLE:-200}
phases=" ${BENCH_PEERS_PHASES:-a b c} "
log() { echo "peers: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "run as root"; exit 1; }
for t in crun bwrap node unshare; do
  command -v "$t" >/dev/null || { log "$t is missing (apt-get install crun bubblewrap)"; exit 1; }
done
if [ -z "${NBBENCH_IN_MOUNTNS:-}" ]; then
  exec unshare --mount --propagation private env NBBENCH_IN_MOUNTNS=1 "$0" "$@"
fi

work=$(mktemp -d /tmp/nbbench.XXXXXX)
if [[ $rootfs_arg == *:* ]]; then
  # Several template layers: the same read-only overlay nestbox builds, without an upper dir.
  mkdir "$work/rootfs"
  mount -t overlay -o "ro,lowerdir=$rootfs_arg" nbbench-rootfs "$work/rootfs"
  rootfs=$work/rootfs
else
  rootfs=$(cd "$rootfs_arg" && pwd)
fi
if [ ! -x "$rootfs/bin/sh" ]; then
  log "$rootfs_arg has no /bin/sh: not a rootfs"
  if mountpoint -q "$work/rootfs" 2>/dev/null; then umount -l "$work/rootfs"; fi
  rm -rf --one-file-system "$work"
  exit 1
fi

# crun 1.8 refuses a cgroup v1 "hybrid" host whose cgroup2 mount still holds a
# controller ("cgroups in hybrid mode not supported, drop all controllers from
# cgroupv2"), whatever its --cgroup-manager. Such a host keeps every controller that
# matters on v1, so we hide /sys/fs/cgroup/unified from crun in our mount namespace:
# crun then sees a plain v1 host and creates its v1 cgroups as usual (it also writes
# its "0::" path into that tmpfs, harmlessly). The host's mounts are untouched.
crun_cgroups=$(stat -fc %T /sys/fs/cgroup)
if [ "$crun_cgroups" = tmpfs ] && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
  [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  log "hybrid cgroup host with controllers on cgroup2: hiding /sys/fs/cgroup/unified from crun"
  mount -t tmpfs -o size=16m nbbench-hide-unified /sys/fs/cgroup/unified
  crun_cgroups="v1 (hybrid host, cgroup2 hidden from crun)"
elif [ "$crun_cgroups" = tmpfs ]; then
  crun_cgroups=v1
else
  crun_cgroups=v2
fi

prefix="nbbench-$$"
# Our own crun state dir: nothing here touches other users' containers.
crun=(crun --root "$work/crun-state")

cleanup() {
  local ids
  ids=$("${crun[@]}" list -q 2>/dev/null | grep "^$prefix-" || true)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    for id in $ids; do "${crun[@]}" kill "$id" KILL >/dev/null 2>&1 || true; done
    for id in $ids; do "${crun[@]}" delete -f "$id" >/dev/null 2>&1 || true; done
  fi
  # Container cgroups live under one parent per controller (v1) or in the v2 tree;
  # killed processes take a moment to leave them.
  local d try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    for d in /sys/fs/cgroup/*/"$prefix" /sys/fs/cgroup/"$prefix"; do
      [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    compgen -G "/sys/fs/cgroup/*/$prefix" >/dev/null || [ -d "/sys/fs/cgroup/$prefix" ] || break
    sleep 0.3
  done
  # Lazy: containers still exiting may hold the overlay. Never descend into a mount.
  if mountpoint -q "$work/rootfs" 2>/dev/null; then umount -l "$work/rootfs"; fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One bundle per command, all sharing the read-only rootfs. `crun spec` gives the
# stock config (pid, net, ipc, uts, mount, cgroup namespaces; no user namespace as root);
# we only point it at the rootfs, drop the terminal and name the cgroup.
# With "as-user", the process runs as the SDK's commands do in a sandbox: uid/gid
# 1000 in /home/user with HOME and USER set.
make_bundle() { # name args-json [as-user]
  local b="$work/$1"
  mkdir -p "$b"
  (cd "$b" && crun spec)
  node -e '
    const fs = require("fs");
    const [file, rootfs, args, cgroup, asUser] = process.argv.slice(1);
    const c = JSON.parse(fs.readFileSync(file, "utf8"));
    c.root = { path: rootfs, readonly: true };
    c.process.terminal = false;
    c.process.args = JSON.parse(args);
    if (asUser === "as-user") {
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.cwd = "/home/user";
      c.process.env.push("HOME=/home/user", "USER=user");
    }
    c.hostname = "nbbench";
    c.linux.cgroupsPath = cgroup;
    fs.writeFileSync(file, JSON.stringify(c, null, 2));
  ' "$b/config.json" "$rootfs" "$2" "/$prefix/$1" "${3:-}"
  echo "$b"
}

ttfb() { node "$here/ttfb.mjs" "$@"; }
bwrap_args=(bwrap --unshare-all --ro-bind "$rootfs" / --proc /proc --dev /dev)

info() { printf '{"key":"info.%s","value":"%s"}\n' "$1" "$2"; }
info crun "$(crun --version | head -1)"
info crun_cgroups "$crun_cgroups"
info bwrap "$(bwrap --version)"
info rootfs "$rootfs_arg"
b_probe=$(make_bundle probe '["true"]')
if ! probe_err=$("${crun[@]}" run --bundle "$b_probe" "$prefix-probe" 2>&1 </dev/null); then
  log "crun run failed: $probe_err"
  exit 1
fi

# ---- (a) spawn -> first byte of `echo hi`, alone and as the SDK has a sandbox run
# it (`/bin/bash -l -c 'echo hi'` as user 1000): the second pair does the same work.
sdk_cmd='["/bin/bash","-l","-c","echo hi"]'
bwrap_user=(--uid 1000 --gid 1000 --setenv HOME /home/user --setenv USER user --chdir /home/user)
json_args() { node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- "$@"; }
if [[ $phases == *" a "* || $phases == *" serve-a "* ]]; then
  b_echo=$(make_bundle echo '["echo","hi"]')
  b_bash=$(make_bundle bash "$sdk_cmd" as-user)
fi
if [[ $phases == *" serve-a "* ]]; then
  # Each crun run is a new container: "{i}" gives each its own id.
  log "(a) serving single runs to sdk.mjs"
  ttfb --serve --mode first-byte --expect 'hi\n' \
    "a.crun=$(json_args "${crun[@]}" run --bundle "$b_echo" "$prefix-a-{i}")" \
    "a.bwrap=$(json_args "${bwrap_args[@]}" echo hi)" \
    "a.crun.sdkcmd=$(json_args "${crun[@]}" run --bundle "$b_bash" "$prefix-a-{i}")" \
    "a.bwrap.sdkcmd=$(json_args "${bwrap_args[@]}" "${bwrap_user[@]}" /bin/bash -l -c 'echo hi')"
fi
if [[ $phases == *" a "* ]]; then
  log "(a) crun run echo hi x$runs_a"
  ttfb --key a.crun --runs "$runs_a" --warmup 3 --mode first-byte --expect 'hi\n' -- \
    "${crun[@]}" run --bundle "$b_echo" "$prefix-a-{i}"
  log "(a) bwrap echo hi x$runs_a"
  ttfb --key a.bwrap --runs "$runs_a" --warmup 3 --mode first-byte --expect 'hi\n' -- "${bwrap_args[@]}" echo hi
  log "(a) crun run bash -l -c 'echo hi' as user x$runs_a"
  ttfb --key a.crun.sdkcmd --runs "$runs_a" --warmup 3 --mode first-byte --expect 'hi\n' -- \
    "${crun[@]}" run --bundle "$b_bash" "$prefix-a-{i}"
  log "(a) bwrap bash -l -c 'echo hi' as user x$runs_a"
  ttfb --key a.bwrap.sdkcmd --runs "$runs_a" --warmup 3 --mode first-byte --expect 'hi\n' -- \
    "${bwrap_args[@]}" "${bwrap_user[@]}" /bin/bash -l -c 'echo hi'
fi

# ---- (b) round trip of `true`
if [[ $phases == *" b "* ]]; then
  b_sleep=$(make_bundle sleep '["sleep","infinity"]')
  "${crun[@]}" run -d --bundle "$b_sleep" "$prefix-b" </dev/null >/dev/null 2>&1
  log "(b) crun exec true x$runs_b"
  ttfb --key b.crun --runs "$runs_b" --warmup 5 --mode exit -- "${crun[@]}" exec "$prefix-b" true
  "${crun[@]}" kill "$prefix-b" KILL >/dev/null 2>&1 || true
  "${crun[@]}" delete -f "$prefix-b" >/dev/null 2>&1 || true
  log "(b) bwrap true x$runs_b"
  ttfb --key b.bwrap --runs "$runs_b" --warmup 5 --mode exit -- "${bwrap_args[@]}" true
fi

# ---- (c) idle memory of $idle containers running `sleep infinity`
if [[ $phases == *" c "* ]]; then
  mem_available() { node "$here/memavailable.mjs"; } # "<median> <spread>" in bytes
  # All containers of this run are charged to one parent cgroup: crun puts each
  # in /$prefix/<name> (linux.cgroupsPath), and parents count their children.
  if [ -d /sys/fs/cgroup/memory ]; then usage_file=/sys/fs/cgroup/memory/$prefix/memory.usage_in_bytes
  else usage_file=/sys/fs/cgroup/$prefix/memory.current; fi
  b_idle=$(make_bundle idle '["sleep","infinity"]')
  sync
  sleep 1
  read -r before before_spread < <(mem_available)
  log "(c) starting $idle idle containers"
  t0=$(date +%s%N)
  for i in $(seq 1 "$idle"); do
    "${crun[@]}" run -d --bundle "$b_idle" "$prefix-c-$i" </dev/null >/dev/null 2>&1 ||
      { log "crun run -d $prefix-c-$i failed"; exit 1; }
  done
  t1=$(date +%s%N)
  sleep 3
  read -r after after_spread < <(mem_available)
  usage=$(cat "$usage_file" 2>/dev/null || echo 0)
  running=$("${crun[@]}" list -q | grep -c "^$prefix-c-" || true)
  [ "$running" = "$idle" ] || { log "only $running of $idle containers run"; exit 1; }
  node -e '
    const [before, after, usage, n, ms, spread] = process.argv.slice(1, 7).map(Number);
    const mib = 1024 * 1024;
    const out = (key, v, extra) => console.log(JSON.stringify({ key, unit: "MiB", n: 1, p50: +v.toFixed(3), p90: +v.toFixed(3), p99: +v.toFixed(3), ...extra }));
    out("c.crun.cgroup", usage / n / mib, { containers: n, total_mib: +(usage / mib).toFixed(1) });
    out("c.crun.memavailable", (before - after) / n / mib, { containers: n, start_ms_each: +(ms / n).toFixed(2), noise_mib: +(spread / n / mib).toFixed(3) });
  ' "$before" "$after" "$usage" "$idle" "$(((t1 - t0) / 1000000))" "$((before_spread + after_spread))"
  log "(c) removing $idle containers"
fi
