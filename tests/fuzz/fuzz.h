/* tests/fuzz/fuzz.h — what every fuzz target shares: the libFuzzer entry point (also called
 * by replay_main.c, which replays the corpora under plain ctest) and CHECK, which traps when
 * a property of the decoder under test does not hold. */
#ifndef SN_FUZZ_H
#define SN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
