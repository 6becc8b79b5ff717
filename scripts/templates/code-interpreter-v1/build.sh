#!/usr/bin/env bash
# Template `code-interpreter-v1` (the default of @e2b/code-interpreter): base's root
# plus a layer of its own with the data libraries E2B's template has and Debian
# packages (numpy, pandas, matplotlib, Pillow, requests, IPython's display and
# pretty printer, ...). The interpreter itself is the agent's (port 49999,
# src/agent/interp-*); this layer only holds what user code imports.
#
# The layer is what apt writes on top of base: base's rootfs is the lower of an
# overlay whose upper is ROOTFS, apt-get runs chrooted in the overlay, and the
# upper (new files, copied-up ones such as dpkg's status, whiteouts for anything
# deleted) becomes this template's top layer (template.json: "layers":
# ["rootfs", "../base/rootfs"]). About 480 MB (a quarter of it sympy, which
# matplotlib's fonttools requires), against 550 MB for base; a minute to build.
#
# Not here, because Debian ties them to a C++ toolchain and Boost headers (scipy ->
# pythran -> g++, libboost-dev: about 500 MB more): scipy, scikit-learn, seaborn.
# fonttools takes munkres in scipy's place. Nor plotly: 140 MB of byte code, and no
# static image export without kaleido.
#
# usage: build.sh ROOTFS | build.sh --inputs; TEMPLATES_DIR is the directory that
# holds the built `base` (prepare-templates.sh sets it).
set -euo pipefail

name=code-interpreter-v1
packages=(
  python3-numpy python3-pandas python3-matplotlib python3-pil python3-munkres
  python3-requests python3-ipython python3-bs4 python3-lxml python3-openpyxl python3-xlrd
  python3-tabulate python3-tz python3-sympy python3-aiohttp python3-docx python3-joblib
  python3-imageio python3-tornado python3-pytest
)
say() { printf '==> [%s] %s\n' "$name" "$*" >&2; }
die() { printf '%s: %s\n' "$name" "$*" >&2; exit 1; }

base=${TEMPLATES_DIR:?TEMPLATES_DIR must name the templates directory}/base
if [ "${1:-}" = --inputs ]; then
  echo "${packages[*]}"
  # The layer holds dpkg's database and ld.so.cache as apt left them on top of one
  # base: a rebuilt base means a rebuilt layer.
  cat "$base/.recipe" 2>/dev/null || echo "no base yet"
  exit 0
fi

# Runs in a private mount namespace (see below): every mount goes away with it.
if [ "${1:-}" = --in-namespace ]; then
  root=$2 work=$3 merged=$4
  mount -t overlay overlay \
    -o "lowerdir=$base/rootfs,upperdir=$root,workdir=$work,index=off,metacopy=off,redirect_dir=off,xino=off" \
    "$merged"
  mount -t proc proc "$merged/proc"
  mount --rbind /dev "$merged/dev"
  # DNS for apt, without writing the host's resolv.conf into the layer.
  had_resolv=1
  if [ ! -e "$merged/etc/resolv.conf" ] && [ ! -L "$merged/etc/resolv.conf" ]; then
    had_resolv=0
    touch "$merged/etc/resolv.conf"
  fi
  mount --bind /etc/resolv.conf "$merged/etc/resolv.conf"
  log=$(dirname "$root")/apt.log
  run_apt() {
    if ! chroot "$merged" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 apt-get -q -y \
      -o APT::Install-Recommends=false -o Dpkg::Use-Pty=0 "$@" >>"$log" 2>&1; then
      tail -n 30 "$log" >&2
      die "apt-get $1 failed (the lines above are the end of its output); check that a Debian mirror is reachable"
    fi
  }
  say "apt-get update (package lists from the mirror in base's sources.list)"
  run_apt update
  say "apt-get install ${#packages[@]} packages and their dependencies (downloads about 60 MB)"
  run_apt install "${packages[@]}"
  run_apt clean
  # Scripts (python3 plot.py) get Agg as their default backend; the interpreter
  # uses its own inline one (src/agent/interp-mpl.py). Debian ships TkAgg.
  sed -i 's/^backend *:.*/backend: Agg/' "$merged/etc/matplotlibrc"
  grep -q '^backend: Agg$' "$merged/etc/matplotlibrc" || die "/etc/matplotlibrc has no backend line to set"
  say "checking the libraries import"
  chroot "$merged" python3 -c 'import numpy, pandas, matplotlib.pyplot, PIL.Image, requests, IPython.lib.pretty
assert matplotlib.get_backend().lower() == "agg", matplotlib.get_backend()' ||
    die "the installed libraries do not import (see the error above)"
  umount "$merged/etc/resolv.conf"
  [ "$had_resolv" = 1 ] || rm -f "$merged/etc/resolv.conf"
  umount -R "$merged/dev" "$merged/proc"
  umount "$merged"
  exit 0
fi

command -v unshare >/dev/null || die "unshare is missing; run: apt-get install util-linux"
if [ ! -d "$base/rootfs" ] || [ ! -f "$base/.recipe" ]; then
  die "template 'base' is not built in $TEMPLATES_DIR; build it first: scripts/prepare-templates.sh $TEMPLATES_DIR base $name"
fi
root=$1
build=$(dirname "$root")
mkdir -p "$root" "$build/work" "$build/merged"
chmod 0755 "$root"
unshare --mount --propagation private -- "$0" --in-namespace "$root" "$build/work" "$build/merged"

say "removing what apt leaves behind (package lists, caches, logs)"
# Straight in the upper dir: deleting a file there never makes a whiteout, it only
# shows base's own copy again (or nothing, for a file apt created).
rm -rf "$root/var/lib/apt/lists" "$root/var/log/apt" "$root/tmp" "$root/var/tmp" "$root/root/.cache"
rm -f "$root/var/log/dpkg.log" "$root/var/log/alternatives.log" "$root"/var/cache/debconf/*-old \
  "$root"/var/cache/apt/*.bin
rm -rf "$build/work" "$build/merged" "$build/apt.log"
say "layer: $(du -sh --one-file-system "$root" | cut -f1) on top of base"
