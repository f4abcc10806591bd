// Allocation counting for the allocation-counting tests, in the spirit of swift-nio's
// (IntegrationTests/allocation-counter-tests-framework). Every allocation is counted in a
// thread-local counter, so other threads don't interfere.
//
// Normal build: a malloc interposer. Every allocation call is forwarded to glibc's own entry points
// and counted.
//
// Under AddressSanitizer or ThreadSanitizer: the sanitizer runtime owns malloc (it interposes the
// family itself and calls it while it is still setting up, before this file's code could run), so
// nothing here defines malloc or free. Instead a malloc hook registered with
// __sanitizer_install_malloc_and_free_hooks counts, per thread as above. ASan runs the hook inside
// its allocator, so every entry point is counted (malloc, calloc, realloc, posix_memalign,
// aligned_alloc, memalign; Swift's swift_slowAlloc uses malloc or, over-aligned, an aligned one).
// TSan runs it in its malloc, calloc and realloc interceptors only: under TSan the aligned entry
// points are not counted. AllocationCountingTests.testCounterSeesSwiftAllocationsInThisBuild checks
// each mode, and the "plain allocator makes two per packet" tests check the hooks see the mallocs
// of the real path.
#include <stddef.h>
#include <errno.h>
#include "CMallocCounter.h"

#if defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define CMC_SANITIZER 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define CMC_SANITIZER 1
#endif

static __thread uint64_t allocations;

uint64_t cmc_thread_allocations(void) { return allocations; }

#ifdef CMC_SANITIZER

// From <sanitizer/allocator_interface.h>; declared here so the header need not be installed.
extern int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void *, size_t),
    void (*free_hook)(const volatile void *));

__attribute__((no_sanitize("address", "thread")))
static void cmc_malloc_hook(const volatile void *p, size_t size) {
    (void)p; (void)size;
    allocations++;
}

__attribute__((no_sanitize("address", "thread")))
static void cmc_free_hook(const volatile void *p) { (void)p; }

static int hooks_installed;

__attribute__((constructor))
static void cmc_install_hooks(void) {
    hooks_installed = __sanitizer_install_malloc_and_free_hooks(cmc_malloc_hook, cmc_free_hook) != 0;
}

#if defined(__SANITIZE_THREAD__)
#  define CMC_THREAD_SANITIZER 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define CMC_THREAD_SANITIZER 1
#  endif
#endif

#ifdef CMC_THREAD_SANITIZER
int cmc_counting_mode(void) { return hooks_installed ? 3 : 0; }
#else
int cmc_counting_mode(void) { return hooks_installed ? 2 : 0; }
#endif

#else

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

int cmc_counting_mode(void) { return 1; }

void *malloc(size_t size) { allocations++; return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { allocations++; return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { allocations++; return __libc_realloc(p, size); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t size) { allocations++; return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { allocations++; return __libc_memalign(alignment, size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    allocations++;
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

#endif
