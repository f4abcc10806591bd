#ifndef CMALLOC_COUNTER_H
#define CMALLOC_COUNTER_H
#include <stdint.h>

/// Allocation calls (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by the
/// calling thread since it started. In a normal build, linking this target into a test binary
/// interposes the malloc family for the whole process; under AddressSanitizer or ThreadSanitizer
/// it counts through the sanitizer's malloc hooks instead. Counting is per thread so other threads
/// don't interfere.
uint64_t cmc_thread_allocations(void);

/// How allocations are counted: 1 = the malloc interposer (normal build), 2 = AddressSanitizer's
/// malloc hooks (every entry point), 3 = ThreadSanitizer's malloc hooks (malloc, calloc and realloc;
/// TSan does not run them for posix_memalign, aligned_alloc, memalign), 0 = the hooks could not be
/// installed (nothing is counted).
int cmc_counting_mode(void);

#endif
