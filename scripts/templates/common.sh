# Sourced by the template recipes (scripts/templates/<name>/build.sh): what every
# built-in template shares. E2B's templates run commands as `user` (uid 1000,
# home /home/user) unless told otherwise; root is uid 0. Part of every recipe's hash.

# ensure_user ROOTFS SHELL: adds user/group `user` (1000:1000) and its home.
ensure_user() {
  local root=$1 shell=$2
  mkdir -p "$root/etc"
  touch "$root/etc/passwd" "$root/etc/group"
  grep -q '^root:' "$root/etc/passwd" || echo 'root:x:0:0:root:/root:/bin/sh' >>"$root/etc/passwd"
  grep -q '^root:' "$root/etc/group" || echo 'root:x:0:' >>"$root/etc/group"
  grep -q '^user:' "$root/etc/passwd" || echo "user:x:1000:1000:user:/home/user:$shell" >>"$root/etc/passwd"
  grep -q '^user:' "$root/etc/group" || echo 'user:x:1000:' >>"$root/etc/group"
  # '*' = no password login, but the account is not locked ('!'), which PAM's account
  # check (sudo) would refuse.
  if [ -f "$root/etc/shadow" ] && ! grep -q '^user:' "$root/etc/shadow"; then
    echo 'user:*:19000:0:99999:7:::' >>"$root/etc/shadow"
  fi
  if [ -f "$root/etc/gshadow" ] && ! grep -q '^user:' "$root/etc/gshadow"; then
    echo 'user:!::' >>"$root/etc/gshadow"
  fi
  mkdir -p "$root/home/user" "$root/root"
  if [ -d "$root/etc/skel" ]; then
    cp -a "$root/etc/skel/." "$root/home/user/"
  fi
  chown -R 1000:1000 "$root/home/user"
  chmod 0755 "$root/home/user"
  chmod 0700 "$root/root"
}

# write_hosts ROOTFS: the names every sandbox resolves without a network. E2B's
# sandboxes are called e2b.local (the runtime sets that uts name); sudo wants to
# resolve it. Replaces the build host's name that mmdebstrap copies in.
write_hosts() {
  cat >"$1/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
127.0.1.1	e2b.local e2b
::1	localhost ip6-localhost ip6-loopback
HOSTS
  echo e2b.local >"$1/etc/hostname"
  chmod 0644 "$1/etc/hosts" "$1/etc/hostname"
}

# mount_points ROOTFS: empty directories the runtime mounts over, and /tmp.
mount_points() {
  mkdir -p "$1"/{proc,sys,dev,run,tmp,var/tmp}
  chmod 1777 "$1/tmp" "$1/var/tmp"
}
