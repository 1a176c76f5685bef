/*
 * fuzz.h - what every fuzz target in this folder defines.
 *
 * Each fuzz_<target>.c is built twice: with clang's libFuzzer, which
 * supplies main() and mutates inputs (`make fuzz`), and with replay.c,
 * which runs every file of the target's corpus once (`make check`).
 * A target returns 0 for any input; a bug shows as a crash, a sanitizer
 * report or a leak, never as a return value.  Returning non-zero is kept
 * for a target that finds its own set-up broken, which replay reports.
 */
#ifndef JX_TESTS_FUZZ_H
#define JX_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
