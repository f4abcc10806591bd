/// Counters of one direction (frames received on its input port, sent on its output port).
/// Plain integers owned by one worker; the runner sums snapshots.
public struct DirectionCounters: Sendable, Equatable {
    public var rxFrames: UInt64 = 0
    public var rxBytes: UInt64 = 0
    public var txFrames: UInt64 = 0
    public var txBytes: UInt64 = 0
    /// Indexed by `DropReason.rawValue`. Inline storage: copying a snapshot never shares a heap
    /// buffer, so counting never triggers a copy-on-write allocation.
    @usableFromInline var drops = InlineArray<8, UInt64>(repeating: 0)

    public init() {}

    public var dropsTotal: UInt64 {
        var total: UInt64 = 0
        for i in drops.indices { total &+= drops[i] }
        return total
    }

    public subscript(reason: DropReason) -> UInt64 { drops[reason.rawValue] }

    @inlinable @inline(__always)
    public mutating func drop(_ reason: DropReason, count: UInt64 = 1) {
        drops[reason.rawValue] &+= count
    }

    public static func + (a: DirectionCounters, b: DirectionCounters) -> DirectionCounters {
        var s = a
        s.rxFrames += b.rxFrames
        s.rxBytes += b.rxBytes
        s.txFrames += b.txFrames
        s.txBytes += b.txBytes
        for i in s.drops.indices { s.drops[i] += b.drops[i] }
        return s
    }

    public static func == (a: DirectionCounters, b: DirectionCounters) -> Bool {
        guard a.rxFrames == b.rxFrames, a.rxBytes == b.rxBytes, a.txFrames == b.txFrames, a.txBytes == b.txBytes
        else { return false }
        for i in a.drops.indices where a.drops[i] != b.drops[i] { return false }
        return true
    }
}

extension DirectionCounters {
    /// "reason count, ..." for every reason with drops since `old`.
    public func dropText(since old: DirectionCounters = DirectionCounters()) -> String {
        DropReason.allCases.compactMap { r -> String? in
            let n = self[r] - old[r]
            return n == 0 ? nil : "\(r.key) \(n)"
        }.joined(separator: ", ")
    }
}
