/*
 * fuzz.h - the entry points every fuzz target (t/fuzz/fuzz_*.c) defines,
 * for libFuzzer (NSMILTER_FUZZ=ON, clang) or for replay.c, the driver that
 * runs the corpus and the kept crashes as a regression test in the normal
 * build.  See t/fuzz/run.sh.
 */
#ifndef NSMILTER_FUZZ_H
#define NSMILTER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional one-time set-up, before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* DATA as a new NUL-terminated string (NULs inside kept), or NULL. */
char *fuzz_string(const uint8_t *data, size_t size);

#endif
