import Synchronization

/// A bounded single-producer single-consumer ring: the hand-off lane between two workers (and
/// the queue of the allocation benchmark's two-thread scenario). A struct of pointers, so the
/// worker's per-frame path touches it without reference counting; whoever creates it calls
/// `deallocate()` once both threads are done with it.
public struct SPSCRing<Element>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<Element>
    private let mask: Int
    /// The two indices live on separate cache lines so producer and consumer do not false-share.
    private let indices: UnsafeMutablePointer<Atomic<Int>>
    private var head: UnsafeMutablePointer<Atomic<Int>> { indices }        // next slot to read
    private var tail: UnsafeMutablePointer<Atomic<Int>> { indices + 16 }   // next slot to write

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "capacity must be a power of two")
        slots = .allocate(capacity: capacity)
        mask = capacity - 1
        indices = .allocate(capacity: 32)
        for i in 0..<32 { (indices + i).initialize(to: Atomic(0)) }
    }

    /// Frees the ring; elements still in it are dropped without deinitialisation (they are plain
    /// values: heads, pointers).
    public func deallocate() {
        slots.deallocate()
        indices.deinitialize(count: 32)
        indices.deallocate()
    }

    /// Items in the ring now (exact only when neither side is moving).
    public var count: Int { tail.pointee.load(ordering: .acquiring) - head.pointee.load(ordering: .acquiring) }

    /// Pushes as many of `items` as fit; returns how many. Producer side only.
    public func push(_ items: UnsafePointer<Element>, count: Int) -> Int {
        pushItems(items, count: count)
    }

    /// Pushes one item if there is room. Producer side only.
    public func push(_ item: Element) -> Bool {
        withUnsafePointer(to: item) { pushItems($0, count: 1) } == 1
    }

    /// Pops up to `count` items; returns how many. Consumer side only.
    public func pop(into items: UnsafeMutablePointer<Element>, count: Int) -> Int {
        let h = head.pointee.load(ordering: .relaxed)
        let t = tail.pointee.load(ordering: .acquiring)
        let n = min(count, t - h)
        for i in 0..<n { (items + i).initialize(to: (slots + ((h + i) & mask)).move()) }
        head.pointee.store(h + n, ordering: .releasing)
        return n
    }

    private func pushItems(_ items: UnsafePointer<Element>, count: Int) -> Int {
        let t = tail.pointee.load(ordering: .relaxed)
        let h = head.pointee.load(ordering: .acquiring)
        let n = min(count, mask + 1 - (t - h))
        for i in 0..<n { (slots + ((t + i) & mask)).initialize(to: items[i]) }
        tail.pointee.store(t + n, ordering: .releasing)
        return n
    }
}
