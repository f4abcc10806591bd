#ifndef CMALLOC_COUNTER_H
#define CMALLOC_COUNTER_H
#include <stdint.h>

/// Allocation calls (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by the
/// calling thread since it started. Linking this target into a test binary interposes the
/// malloc family for the whole process; counting is per thread so other threads don't interfere.
uint64_t cmc_thread_allocations(void);

#endif
