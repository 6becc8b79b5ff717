/* libFuzzer entry point, shared by the harnesses and fuzz-main.c (replay without libFuzzer). */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
