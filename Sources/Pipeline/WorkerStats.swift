import BufferCache
#if canImport(Glibc)
import Glibc
#endif

/// What a worker publishes: its counters as of the last publish. `Processor` is the processor's
/// own counter type (`NoCounters` for the stateless modes).
public struct WorkerStats<Processor: Sendable>: Sendable {
    /// Indexed by the input side: `.0` counts IN -> OUT, `.1` OUT -> IN.
    public var directions: (DirectionCounters, DirectionCounters)
    public var allocator: AllocatorCounters
    public var processor: Processor

    public init(directions: (DirectionCounters, DirectionCounters), allocator: AllocatorCounters, processor: Processor) {
        self.directions = directions
        self.allocator = allocator
        self.processor = processor
    }
}

/// The mailbox between a worker and whoever reports: the worker copies its plain counters in
/// about every 50 ms and at the end; the reader reads under the same lock. One lock per
/// publish, never per frame.
///
/// A pthread mutex rather than Synchronization's `Mutex`, as in `HeadPool`: ThreadSanitizer
/// intercepts pthread locks but does not see the uninstrumented standard library's `Mutex`, and
/// would report every hand-over as a race. The value and the lock live on the heap (a pthread
/// mutex must not move); they are only touched under the lock, hence `@unchecked Sendable`.
public final class StatsSlot<Processor: Sendable>: @unchecked Sendable {
    private let value: UnsafeMutablePointer<WorkerStats<Processor>?>
    private let lock: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        value = .allocate(capacity: 1)
        value.initialize(to: nil)
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

    public func publish(_ stats: WorkerStats<Processor>) {
        pthread_mutex_lock(lock)
        value.pointee = stats
        pthread_mutex_unlock(lock)
    }

    /// The last published counters; nil before the worker's first publish.
    public func read() -> WorkerStats<Processor>? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return value.pointee
    }
}
