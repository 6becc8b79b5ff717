#!/usr/bin/env bash
# Installs what nestbox needs on Debian 12 (as root) and checks Node.js.
# Idempotent: does nothing when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential meson ninja-build pkg-config protobuf-c-compiler python3
  libmicrohttpd-dev libhttp-parser-dev libjansson-dev libprotobuf-c-dev libsqlite3-dev libseccomp-dev libcap-dev
  libarchive-dev libcurl4-openssl-dev libcmocka-dev libssl-dev zlib1g-dev libmnl-dev libnftables-dev
  mmdebstrap busybox-static crun bubblewrap iproute2 nftables tmux procps
  # sandbox.getHost(port) is <port>-<id>.localhost:3000 by default: glibc (node's fetch,
  # Python) resolves *.localhost only through nss-myhostname, which its package adds
  # to /etc/nsswitch.conf. curl and browsers resolve it themselves.
  libnss-myhostname
  # mkfs.ext4 formats each sandbox's disk image (src/runtime/disk.c).
  e2fsprogs
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "nestbox: installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! getent hosts nestbox-check.localhost >/dev/null; then
  echo "nestbox: warning: *.localhost does not resolve here, so programs other than curl and browsers" \
    "cannot open sandbox.getHost(port): add 'myhostname' to the hosts line of /etc/nsswitch.conf" >&2
fi

# The official e2b SDK needs node >= 20.18.1. Debian's nodejs 18 is too old: never install it over a newer one.
need=20.18.1
if ! command -v node >/dev/null; then
  echo "nestbox: node is missing; install Node.js >= $need (for example from nodejs.org or NodeSource) and run make again" >&2
  exit 1
fi
have=$(node -p 'process.versions.node')
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
  echo "nestbox: node $have is too old: the e2b SDK needs >= $need; install a newer Node.js and run make again" >&2
  exit 1
fi

if [ -f tests/e2e/package-lock.json ] && [ ! -d tests/e2e/node_modules ]; then
  echo "nestbox: installing end-to-end test dependencies (npm ci)" >&2
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
