/*
 * fuzz.h - libFuzzer's entry points, declared for the targets
 * (tests/fuzz/fuzz_*.c), which the project's -Wmissing-prototypes wants
 * to see declared before they are defined. See tests/fuzz/README.md.
 */
#ifndef APIKEY_FUZZ_H
#define APIKEY_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
