#!/bin/sh
# Runs protoc-c over our protos and flattens the output into one directory, so
# generated files include each other by bare name.
set -eu
protoc_c=$1 src=$2 out=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$protoc_c" --proto_path="$src" --c_out="$tmp" process.proto filesystem.proto google/protobuf/timestamp.proto
sed 's|#include "google/protobuf/timestamp.pb-c.h"|#include "timestamp.pb-c.h"|' "$tmp/filesystem.pb-c.h" > "$out/filesystem.pb-c.h"
cp "$tmp/filesystem.pb-c.c" "$tmp/process.pb-c.c" "$tmp/process.pb-c.h" "$out/"
sed 's|#include "google/protobuf/timestamp.pb-c.h"|#include "timestamp.pb-c.h"|' "$tmp/google/protobuf/timestamp.pb-c.c" > "$out/timestamp.pb-c.c"
cp "$tmp/google/protobuf/timestamp.pb-c.h" "$out/"
