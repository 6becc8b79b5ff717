#!/bin/sh
# Builds tests/fuzz/wire/fuzz-pbjson for libFuzzer with clang + ASan/UBSan, then runs it.
#   tests/fuzz/wire/build.sh [seconds]      (default 60; corpus grows in build-fuzz/corpus-pbjson)
# The gcc build compiles the same harness in replay mode (meson test wire-fuzz-pbjson-corpus).
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
bd=$top/build-fuzz
secs=${1:-60}
if [ ! -f "$bd/build.ninja" ]; then
        # fuzzer-no-link instruments the libraries for coverage without pulling libFuzzer's main.
        CC=clang meson setup "$bd" "$top" -Db_sanitize=address,undefined -Db_lundef=false \
                -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
ninja -C "$bd" src/wire/libwire.a src/base/libbase.a proto/libproto.a >/dev/null
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE \
        -I"$top/src/wire" -I"$top/src/base" -I"$bd/proto" -I"$bd" \
        "$top/tests/fuzz/wire/fuzz-pbjson.c" \
        "$bd/src/wire/libwire.a" "$bd/src/base/libbase.a" "$bd/proto/libproto.a" \
        -ljansson -lprotobuf-c -o "$bd/fuzz-pbjson"
mkdir -p "$bd/corpus-pbjson"
exec "$bd/fuzz-pbjson" -max_total_time="$secs" -max_len=4096 "$bd/corpus-pbjson" "$top/tests/fuzz/wire/corpus-pbjson"
