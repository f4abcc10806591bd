#if canImport(Glibc)
import Glibc
#endif

/// A value handed between threads under a pthread mutex.
///
/// Not Synchronization's `Mutex`: ThreadSanitizer intercepts pthread locks but does not see the
/// uninstrumented standard library's `Mutex`, and would report every hand-over as a race (HeadPool
/// and the drop capture lock the same way). The value and the lock live on the heap (a pthread
/// mutex must not move) and are only touched under the lock, hence `@unchecked Sendable`.
public final class PthreadLocked<Value>: @unchecked Sendable {
    private let value: UnsafeMutablePointer<Value>
    private let lock: UnsafeMutablePointer<pthread_mutex_t>

    public init(_ initial: Value) {
        value = .allocate(capacity: 1)
        value.initialize(to: initial)
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(lock, nil)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    public func withLock<R>(_ body: (inout Value) -> R) -> R {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body(&value.pointee)
    }
}
