#if canImport(Glibc)
import Glibc
#endif

/// The first error a thread hit, for the main thread to report after every thread has stopped.
///
/// A pthread mutex rather than Synchronization's `Mutex`: ThreadSanitizer intercepts pthread
/// locks but does not see the uninstrumented standard library's `Mutex`, and would report the
/// hand-over between the recording thread and the main thread as a race. The text and the lock
/// live on the heap (a pthread mutex must not move) and are only touched under the lock, hence
/// `@unchecked Sendable`.
public final class FailureBox: @unchecked Sendable {
    private let text: UnsafeMutablePointer<String?>
    private let lock: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        text = .allocate(capacity: 1)
        text.initialize(to: nil)
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(lock, nil)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
        text.deinitialize(count: 1)
        text.deallocate()
    }

    public func record(_ message: String) {
        pthread_mutex_lock(lock)
        if text.pointee == nil { text.pointee = message }
        pthread_mutex_unlock(lock)
    }

    public var message: String? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return text.pointee
    }
}
