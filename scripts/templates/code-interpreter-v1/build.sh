#!/usr/bin/env bash
# Template `code-interpreter-v1` (the default of @e2b/code-interpreter): base's root
# as is. The interpreter is the agent's own (port 49999, src/agent/interp-*.c) and
# runs base's python3, so this template adds no layer of its own; rootfs/ stays
# empty only because prepare-templates.sh expects one per template.
# usage: build.sh ROOTFS | build.sh --inputs
set -euo pipefail
if [ "${1:-}" = --inputs ]; then
  exit 0 # nothing of its own to hash; base rebuilds itself when its recipe changes
fi
mkdir -p "$1"
