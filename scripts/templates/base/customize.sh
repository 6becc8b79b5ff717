#!/usr/bin/env bash
# mmdebstrap customize hook for `base` ($1 = the new root file system, on the host).
set -euo pipefail
. "$(dirname "$0")/../common.sh"
root=$1

ensure_user "$root" /bin/bash
# Passwordless sudo, like E2B's base; NOPASSWD needs no password hash at all.
echo 'user ALL=(ALL:ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/user"
chmod 0440 "$root/etc/sudoers.d/user"
chroot "$root" visudo -cf /etc/sudoers.d/user >/dev/null
write_hosts "$root"
mount_points "$root"
# The SDK runs every command as `bash -l -c`: /etc/profile's "$(id -u)" forks a
# process per command (about 1.3 ms here). bash knows its EUID; other shells fall
# back to id, so behaviour is the same.
sed -i 's/"\$(id -u)"/"${EUID:-$(id -u)}"/g' "$root/etc/profile"
grep -q 'EUID:-' "$root/etc/profile" || { echo "base: /etc/profile no longer has the id -u test" >&2; exit 1; }
# Nothing a sandbox needs and about 50 MB: package lists and caches (apt-get update restores them).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/cache/debconf/*-old "$root"/var/log/apt/* "$root"/var/log/dpkg.log
mkdir -p "$root/var/lib/apt/lists/partial"
