import BufferCache
import ProcessControl

/// What a worker publishes: its counters as of the last publish. `Processor` is the processor's
/// own counter type (`NoCounters` for the stateless modes).
public struct WorkerStats<Processor: Sendable>: Sendable {
    /// Indexed by the input side: `.0` counts IN -> OUT, `.1` OUT -> IN.
    public var directions: (DirectionCounters, DirectionCounters)
    public var allocator: AllocatorCounters
    public var processor: Processor
    public var handOffs: HandOffCounters
    public var poll: PollCounters

    public init(directions: (DirectionCounters, DirectionCounters), allocator: AllocatorCounters, processor: Processor,
                handOffs: HandOffCounters = HandOffCounters(), poll: PollCounters = PollCounters()) {
        self.directions = directions
        self.allocator = allocator
        self.processor = processor
        self.handOffs = handOffs
        self.poll = poll
    }
}

/// The mailbox between a worker and whoever reports: the worker copies its plain counters in
/// about every 50 ms and at the end; the reader reads under the same lock. One lock per
/// publish, never per frame (a pthread mutex, which ThreadSanitizer sees: `PthreadLocked`).
public final class StatsSlot<Processor: Sendable>: Sendable {
    private let value = PthreadLocked<WorkerStats<Processor>?>(nil)

    public init() {}

    public func publish(_ stats: WorkerStats<Processor>) { value.withLock { $0 = stats } }
    /// The last published counters; nil before the worker's first publish.
    public func read() -> WorkerStats<Processor>? { value.withLock { $0 } }
}
