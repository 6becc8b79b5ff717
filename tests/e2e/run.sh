#!/usr/bin/env bash
# End-to-end tests: the official e2b SDK (pinned in package.json) against a real
# `nestbox serve` per test file. Needs root (namespaces, cgroups), a built
# build/nestbox and prepared templates (busybox, base).
#   NESTBOX_BIN            daemon binary (default <repo>/build/nestbox)
#   NESTBOX_TEMPLATE_DIR   templates (default /var/lib/nestbox/templates)
#   tests/e2e/run.sh [file.test.mjs ...]   runs only the given files
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
files=()
for f in "$@"; do files+=("$(realpath "$f")"); done
cd "$here"

if [ ! -d node_modules/e2b ]; then
  echo "e2e: installing the pinned SDK (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
export NESTBOX_BIN=${NESTBOX_BIN:-$repo/build/nestbox}
export NESTBOX_TEMPLATE_DIR=${NESTBOX_TEMPLATE_DIR:-/var/lib/nestbox/templates}
if [ ! -x "$NESTBOX_BIN" ]; then
  echo "e2e: $NESTBOX_BIN is missing: build it first (make)" >&2
  exit 1
fi

if [ ${#files[@]} -eq 0 ]; then files=("$here"/*.test.mjs); fi
# One file at a time: each starts its own daemon, and the isolation probes
# (fork bomb, memory hog) must not share the machine with other files.
exec node --test --test-concurrency=1 --test-reporter=spec --test-timeout=180000 "${files[@]}"
