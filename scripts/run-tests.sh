#!/usr/bin/env bash
# `make test`: unit tests (plain and ASan+UBSan), then end-to-end tests with the
# official e2b SDK against a live `nestbox serve`. Needs root (sandboxes).
set -euo pipefail
cd "$(dirname "$0")/.."

templates=${NESTBOX_TEMPLATE_DIR:-/var/lib/nestbox/templates}

echo "== unit tests"
meson test -C build --print-errorlogs --num-processes 2

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ninja -C build-asan >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --print-errorlogs --num-processes 2 --no-rebuild

echo "== templates in $templates"
scripts/prepare-templates.sh "$templates"

echo "== end-to-end tests (official e2b SDK)"
NESTBOX_TEMPLATE_DIR=$templates tests/e2e/run.sh

echo "== end-to-end tests against the ASan+UBSan daemon (leaks and memory errors fail the run)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  NESTBOX_BIN=$PWD/build-asan/nestbox NESTBOX_TEMPLATE_DIR=$templates tests/e2e/run.sh \
  tests/e2e/sandbox-lifecycle.test.mjs tests/e2e/commands.test.mjs tests/e2e/files.test.mjs \
  tests/e2e/pause.test.mjs tests/e2e/pty.test.mjs tests/e2e/ports.test.mjs tests/e2e/metrics.test.mjs \
  tests/e2e/logs.test.mjs tests/e2e/network.test.mjs
