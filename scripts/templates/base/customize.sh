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
# What the host trusts beyond Debian's bundle (a company or egress proxy that
# re-signs TLS), its sandboxes trust too: otherwise npm, pip, git and curl inside
# fail where they work on the host. Node keeps its own bundle, so template.json
# points NODE_EXTRA_CA_CERTS at the system one.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
  echo "==> [base] trusting the host's own CAs: $(cd /usr/local/share/ca-certificates && echo *.crt)" >&2
fi
mount_points "$root"
# The SDK runs every command as `bash -l -c`: /etc/profile's "$(id -u)" forks a
# process per command (about 1.3 ms here). bash knows its EUID; other shells fall
# back to id, so behaviour is the same.
sed -i 's/"\$(id -u)"/"${EUID:-$(id -u)}"/g' "$root/etc/profile"
grep -q 'EUID:-' "$root/etc/profile" || { echo "base: /etc/profile no longer has the id -u test" >&2; exit 1; }
# `pip install x` works as on E2B, where agents run it all the time: Debian marks its
# Python "externally managed" (PEP 668) and pip would refuse. As `user`, pip installs
# into ~/.local; that site dir exists from the start, so a Python (a code interpreter's
# kernel) started before the first install already has it on sys.path.
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
pyver=$(chroot "$root" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
mkdir -p "$root/home/user/.local/lib/python$pyver/site-packages" "$root/home/user/.local/bin"
chown -R 1000:1000 "$root/home/user/.local"
# Nothing a sandbox needs and about 50 MB: package lists and caches (apt-get update restores them).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/cache/debconf/*-old "$root"/var/log/apt/* "$root"/var/log/dpkg.log
mkdir -p "$root/var/lib/apt/lists/partial"
