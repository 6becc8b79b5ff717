#!/usr/bin/env bash
# Builds the built-in templates into TEMPLATES_DIR (as root):
#   busybox  Debian's static busybox + a user; builds in well under a second
#   base     Debian bookworm by mmdebstrap with python3, pip, node, git, curl, sudo; about a minute
#   code-interpreter-v1  a layer on base's root with numpy, pandas, matplotlib... (apt in an
#            overlay on base) for @e2b/code-interpreter; about a minute
#
# usage: scripts/prepare-templates.sh TEMPLATES_DIR [NAME...]
#
# A template is <TEMPLATES_DIR>/<name>/{template.json,rootfs/,.recipe}. Each recipe
# lives in scripts/templates/<name>/ (build.sh, template.json); .recipe holds a hash
# of the recipe and of the inputs build.sh names, and a template is rebuilt only
# when that hash changes. Builds go to <TEMPLATES_DIR>/.build-<name>.* and are
# renamed into place when complete, so an interrupted build is never used. A
# replaced template moves to <TEMPLATES_DIR>/.trash/ and is deleted on a later run
# once no mount (a running sandbox's overlay) refers to that template any more.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
recipes=$here/templates
default_templates=(busybox base code-interpreter-v1)

# Turn Ctrl-C and kill into a normal exit, so the EXIT trap removes a half-made build.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'prepare-templates: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 TEMPLATES_DIR [NAME...] (default names: ${default_templates[*]})"
[ "$(id -u)" = 0 ] || die "must run as root: templates keep real uids 0..65535 and mmdebstrap --mode=root needs root; run: sudo $0 $*"

mkdir -p -- "$1" || die "cannot create templates directory '$1'"
dir=$(realpath -- "$1")
shift
case $dir in
*[:,=\ \\]*) die "templates directory '$dir' contains ':', ',', '=', '\\' or a space, which overlayfs cannot take; choose another" ;;
esac
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${default_templates[@]}")

# One run at a time per templates directory (make run and make test may overlap).
exec 9>"$dir/.prepare.lock"
if ! flock -n 9; then
  say "waiting for another prepare-templates run on $dir"
  flock 9
fi

# True when any mount in any mount namespace names a path under $1 (overlay lowerdir=
# options keep the path they were mounted with, so match on the template's own path).
# Sets in_use_pid to a process that sees such a mount.
in_use() {
  local f
  for f in /proc/[0-9]*/mountinfo; do
    if grep -qF -- "$1" "$f" 2>/dev/null; then
      in_use_pid=${f#/proc/}
      in_use_pid=${in_use_pid%/mountinfo}
      return 0
    fi
  done
  return 1
}

# Unmounts whatever a killed mmdebstrap left mounted below $1, then removes it
# without ever crossing into another file system.
remove_tree() {
  local m
  awk -v p="$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l -- "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system -- "$1"
}

# Leftovers: builds of runs that were killed, and replaced templates no longer in use.
for d in "$dir"/.build-*; do
  [ -e "$d" ] || continue
  say "removing an interrupted build: $d"
  remove_tree "$d"
done
if [ -d "$dir/.trash" ]; then
  for d in "$dir"/.trash/*; do
    [ -e "$d" ] || continue
    name=${d##*/}
    name=${name%.*}
    name=${name%.*} # entries are <name>.<time>.<pid>
    if in_use "$dir/$name/" || in_use "$d/"; then
      say "keeping $d: a mount still uses template '$name' (seen by pid $in_use_pid)"
    else
      remove_tree "$d"
    fi
  done
fi

recipe_hash() { # name
  local r=$recipes/$1
  {
    (cd "$r" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    sha256sum "$recipes/common.sh" | cut -d' ' -f1
    RECIPE_DIR=$r TEMPLATES_DIR=$dir "$r/build.sh" --inputs
  } | sha256sum | cut -d' ' -f1
}

build_one() { # name
  local name=$1 r=$recipes/$1 hash tmp start
  if [ ! -x "$r/build.sh" ] || [ ! -f "$r/template.json" ]; then
    die "no recipe for template '$name' (expected $r/build.sh and $r/template.json)"
  fi
  hash=$(recipe_hash "$name") || die "cannot hash the recipe of '$name' (see the error above)"
  if [ -f "$dir/$name/.recipe" ] && [ "$(cat "$dir/$name/.recipe")" = "$hash" ] &&
    [ -f "$dir/$name/template.json" ] && [ -d "$dir/$name/rootfs" ]; then
    say "template '$name' is up to date ($dir/$name)"
    return 0
  fi

  start=$(date +%s)
  tmp=$(mktemp -d "$dir/.build-$name.XXXXXX")
  chmod 0755 "$tmp"
  # Removed on any exit, including Ctrl-C; a finished build is renamed away first.
  # shellcheck disable=SC2064 # expanded now on purpose: $tmp is local to this function
  trap "remove_tree $(printf %q "$tmp")" EXIT
  say "building template '$name' in $tmp"
  if ! RECIPE_DIR=$r TEMPLATES_DIR=$dir "$r/build.sh" "$tmp/rootfs"; then
    die "building template '$name' failed (see the messages above); fix the cause and run again, nothing was replaced"
  fi
  cp "$r/template.json" "$tmp/template.json"
  chmod 0644 "$tmp/template.json"
  printf '%s\n' "$hash" >"$tmp/.recipe"
  sync -f "$tmp" 2>/dev/null || true

  if [ -e "$dir/$name" ]; then
    mkdir -p "$dir/.trash"
    mv -T -- "$dir/$name" "$dir/.trash/$name.$(date +%s).$$"
  fi
  mv -T -- "$tmp" "$dir/$name"
  trap - EXIT
  say "template '$name' ready in $(($(date +%s) - start))s ($dir/$name)"
  # The replaced copy goes now unless a sandbox still uses the template.
  for d in "$dir"/.trash/"$name".*; do
    [ -e "$d" ] || continue
    if in_use "$dir/$name/" || in_use "$d/"; then
      say "keeping the replaced copy $d: a mount still uses template '$name' (seen by pid $in_use_pid)"
    else
      remove_tree "$d"
    fi
  done
}

for name in "${names[@]}"; do
  case $name in
  [a-z0-9]*) ;;
  *) die "invalid template name '$name'" ;;
  esac
  build_one "$name"
done
