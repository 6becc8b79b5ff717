#!/usr/bin/env bash
# `make bench`: nestbox through the official SDK beside crun and bubblewrap, in the
# same run, on the same rootfs (the `base` template's layers). Prints a table with
# p50/p90/p99, ratios and the goals; keeps the raw result lines in $BENCH_OUT.
#   NESTBOX_TEMPLATE_DIR (/var/lib/nestbox/templates)  NESTBOX_BIN (build/nestbox)
#   BENCH_TEMPLATE (base)  BENCH_RUNS_A (50)  BENCH_RUNS_B (200)  BENCH_IDLE (200)
#   BENCH_ROOTFS: peers' rootfs when the template is not there yet (dir or LAYER:LAYER)
#   BENCH_FILES (1): 0 skips the file-transfer figures (bench/files.mjs, BENCH_FILES_MIB, _RUNS)
# Exit status: 0 when every figure was measured, 1 when a measurement failed,
# 2 when only the peers could be measured (no daemon binary or template yet).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
export NESTBOX_TEMPLATE_DIR=${NESTBOX_TEMPLATE_DIR:-/var/lib/nestbox/templates}
export NESTBOX_BIN=${NESTBOX_BIN:-$repo/build/nestbox}
template=${BENCH_TEMPLATE:-base}
export BENCH_TEMPLATE=$template
out=${BENCH_OUT:-$(mktemp -d /tmp/nestbox-bench.XXXXXX)}
mkdir -p "$out"

[ "$(id -u)" = 0 ] || { echo "bench: run as root (sandboxes and containers)" >&2; exit 1; }
if [ ! -d "$repo/tests/e2e/node_modules/e2b" ]; then
  (cd "$repo/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)
fi

# The template's layers, absolute, top-most first, ':'-joined (template.json, see
# src/templates/store.h).
tdir="$NESTBOX_TEMPLATE_DIR/$template"
layers=""
if [ -f "$tdir/template.json" ]; then
  layers=$(node -e '
    const fs = require("fs"), path = require("path");
    const dir = process.argv[1];
    const t = JSON.parse(fs.readFileSync(path.join(dir, "template.json"), "utf8"));
    console.log((t.layers || []).map((l) => path.resolve(dir, l)).join(":"));
  ' "$tdir")
fi
rootfs=${BENCH_ROOTFS:-$layers}
if [ -z "$rootfs" ]; then
  echo "bench: no template '$template' in $NESTBOX_TEMPLATE_DIR (run scripts/prepare-templates.sh $NESTBOX_TEMPLATE_DIR) and no BENCH_ROOTFS" >&2
  exit 1
fi
if [ -n "${BENCH_ROOTFS:-}" ] && [ -n "$layers" ] && [ "$BENCH_ROOTFS" != "$layers" ]; then
  echo "bench: warning: peers use BENCH_ROOTFS=$BENCH_ROOTFS, nestbox uses template '$template' ($layers)" >&2
fi

status=0
note=""
if [ ! -x "$NESTBOX_BIN" ]; then
  note="$NESTBOX_BIN is not built"
elif [ -z "$layers" ]; then
  note="template '$template' is not in $NESTBOX_TEMPLATE_DIR"
fi

# (a) is measured by sdk.mjs, one nestbox run then one run of each peer, over and
# over, so that a noisy host weighs on all of them alike; without nestbox, the
# peers measure (a) alone.
peer_phases="a b c"
[ -z "$note" ] && peer_phases="b c"
echo "bench: peers (crun, bwrap) on $rootfs" >&2
if ! BENCH_PEERS_PHASES=$peer_phases "$here/peers.sh" "$rootfs" >"$out/peers.jsonl"; then
  echo "bench: peers.sh failed" >&2
  status=1
fi

if [ -z "$note" ]; then
  echo "bench: nestbox through the SDK, template $template" >&2
  if ! BENCH_PEERS_ROOTFS=$rootfs node "$here/sdk.mjs" >"$out/nestbox.jsonl"; then
    note="sdk.mjs failed (see above)"
    status=1
  fi
  # 100 MiB up and down through the SDK beside `cat` (issue 4); BENCH_FILES=0 skips it.
  if [ "${BENCH_FILES:-1}" != 0 ]; then
    echo "bench: file transfer through the SDK (bench/files.mjs)" >&2
    if ! node "$here/files.mjs" >"$out/files.jsonl"; then
      echo "bench: files.mjs failed (see above)" >&2
      status=1
    fi
  fi
fi
if [ -n "$note" ] && [ "$status" = 0 ]; then status=2; fi

node "$here/report.mjs" "$out/peers.jsonl" "$out/nestbox.jsonl" --nestbox-note "$note"
echo "bench: raw results in $out" >&2
exit "$status"
