#!/usr/bin/env bash
# Template `busybox`: Debian's static busybox and one symlink per applet, plus
# root and `user`. Tiny and fast to build: the template the unit and isolation
# tests use. usage: build.sh ROOTFS | build.sh --inputs
set -euo pipefail
. "$RECIPE_DIR/../common.sh"

bb=/bin/busybox
if [ ! -x "$bb" ] || ! "$bb" --list-full >/dev/null 2>&1; then
  echo "busybox: $bb is missing or not Debian's busybox-static; run: apt-get install busybox-static (or make deps)" >&2
  exit 1
fi
if [ "${1:-}" = --inputs ]; then
  # Rebuild when Debian updates busybox.
  sha256sum "$bb"
  exit 0
fi
root=$1

echo "==> [busybox] installing $bb and its applets" >&2
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc}
install -m 0755 "$bb" "$root/bin/busybox"
# One symlink per applet (busybox --list-full), made by busybox itself inside the new root.
chroot "$root" /bin/busybox --install -s
rm -f "$root/linuxrc"
[ -L "$root/bin/sh" ] || { echo "busybox: no sh applet in $bb" >&2; exit 1; }
# E2B's SDK runs every command as `/bin/bash -l -c CMD`; busybox's ash takes the same flags
# (busybox has no "bash" applet name, hence a script rather than a link).
printf '#!/bin/sh\nexec /bin/sh "$@"\n' >"$root/bin/bash"
chmod 0755 "$root/bin/bash"

echo "==> [busybox] users, hosts, mount points" >&2
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
chmod 0644 "$root/etc/passwd" "$root/etc/group"
ensure_user "$root" /bin/sh
write_hosts "$root"
mount_points "$root"
