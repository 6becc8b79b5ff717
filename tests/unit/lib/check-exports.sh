#!/bin/sh
# libnestbox.so must export exactly the functions include/nestbox.h declares
# (jansson's check-exports): nothing of base/ or wire/ leaks, nothing declared
# is missing. Usage: check-exports.sh LIBNESTBOX.SO NESTBOX.H
set -eu
lib=$1
header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u >"$tmp/exported"
# Declarations: "<type> nestbox_xxx(" at the start of a line, in the header.
grep -oE '^[a-z0-9_ ]*[ *]nestbox_[a-z0-9_]+\(' "$header" | grep -oE 'nestbox_[a-z0-9_]+\($' | tr -d '(' |
        sort -u >"$tmp/declared"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
        echo "check-exports: the export list of $lib differs from $header (- declared only, + exported only)" >&2
        exit 1
fi
echo "check-exports: $(wc -l <"$tmp/exported") symbols, all declared in nestbox.h"
