import Synchronization

/// A bounded single-producer single-consumer ring of raw pointers, for the two-thread scenario:
/// the queue a packet crosses between the direction that received it and the one that frees it.
final class SPSCRing: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let mask: Int
    /// The two indices live on separate cache lines so producer and consumer do not false-share.
    private let indices: UnsafeMutablePointer<Atomic<Int>>
    private var head: UnsafeMutablePointer<Atomic<Int>> { indices }        // next slot to read
    private var tail: UnsafeMutablePointer<Atomic<Int>> { indices + 16 }   // next slot to write

    init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "capacity must be a power of two")
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
        mask = capacity - 1
        indices = .allocate(capacity: 32)
        for i in 0..<32 { (indices + i).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deallocate()
        indices.deinitialize(count: 32)
        indices.deallocate()
    }

    /// Pushes as many of `items` as fit; returns how many.
    func push(_ items: UnsafePointer<UnsafeMutableRawPointer>, count: Int) -> Int {
        let t = tail.pointee.load(ordering: .relaxed)
        let h = head.pointee.load(ordering: .acquiring)
        let n = min(count, mask + 1 - (t - h))
        for i in 0..<n { slots[(t + i) & mask] = items[i] }
        tail.pointee.store(t + n, ordering: .releasing)
        return n
    }

    /// Pops up to `count` items; returns how many.
    func pop(into items: UnsafeMutablePointer<UnsafeMutableRawPointer>, count: Int) -> Int {
        let h = head.pointee.load(ordering: .relaxed)
        let t = tail.pointee.load(ordering: .acquiring)
        let n = min(count, t - h)
        for i in 0..<n { items[i] = slots[(h + i) & mask]! }
        head.pointee.store(h + n, ordering: .releasing)
        return n
    }
}
