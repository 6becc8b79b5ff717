#!/usr/bin/env bash
# Template `base`: what E2B's base has. Debian bookworm built by mmdebstrap with
# python3 + pip + venv, node + npm, git, curl, sudo and procps; user `user` (1000:1000,
# /home/user, bash) with passwordless sudo. usage: build.sh ROOTFS | build.sh --inputs
#
# NESTBOX_DEBIAN_MIRROR overrides the mirror (default: deb.debian.org with the
# updates and security suites, as mmdebstrap picks for a stable release).
set -euo pipefail

suite=bookworm
packages=python3,python3-pip,python3-venv,nodejs,npm,git,curl,ca-certificates,sudo,procps
mirror=${NESTBOX_DEBIAN_MIRROR:-}

if [ "${1:-}" = --inputs ]; then
  echo "$suite $packages $mirror"
  # customize.sh copies the host's own CAs in: new ones mean a new template.
  cat /usr/local/share/ca-certificates/*.crt 2>/dev/null | sha256sum
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  echo "base: mmdebstrap is missing; run: apt-get install mmdebstrap (or make deps)" >&2
  exit 1
}
root=$1

echo "==> [base] mmdebstrap $suite with $packages (downloads ~150 MB from ${mirror:-deb.debian.org})" >&2
args=(
  --mode=root --variant=apt
  --include="$packages"
  # What the list asks for, not everything it recommends: smaller and faster.
  --aptopt='APT::Install-Recommends "false"'
  --customize-hook='echo "==> [base] user, sudo, hosts, cleanup" >&2'
  --customize-hook="$(printf '%q' "$RECIPE_DIR/customize.sh") \"\$1\""
  "$suite" "$root"
)
[ -z "$mirror" ] || args+=("$mirror")
if ! mmdebstrap "${args[@]}"; then
  echo "base: mmdebstrap failed; check that a Debian mirror is reachable (or set NESTBOX_DEBIAN_MIRROR) and run again" >&2
  exit 1
fi
for bin in python3 pip3 node npm git curl sudo ps bash; do
  chroot "$root" sh -c "command -v $bin" >/dev/null || {
    echo "base: $bin is missing from the built root file system" >&2
    exit 1
  }
done
