import BufferCache
import Nat44
import Pipeline

/// The counters of every worker summed, as of their last publish: the values the stats line
/// and the summaries are built from.
public struct Snapshot {
    /// `.0` is IN -> OUT, `.1` OUT -> IN.
    public var directions = (DirectionCounters(), DirectionCounters())
    public var allocator = AllocatorCounters()
    /// The NAT gateways' counters in `--vlan-nat` mode (each worker owns one).
    public var nat: NatCounters?
    public var handOffs = HandOffCounters()

    public init(directions: (DirectionCounters, DirectionCounters) = (DirectionCounters(), DirectionCounters()),
                allocator: AllocatorCounters = AllocatorCounters(), nat: NatCounters? = nil, handOffs: HandOffCounters = HandOffCounters()) {
        (self.directions, self.allocator, self.nat, self.handOffs) = (directions, allocator, nat, handOffs)
    }

    public static func + (a: Snapshot, b: Snapshot) -> Snapshot {
        var nat = a.nat ?? b.nat
        if let x = a.nat, let y = b.nat { nat = x + y }
        return Snapshot(directions: (a.directions.0 + b.directions.0, a.directions.1 + b.directions.1),
                        allocator: a.allocator + b.allocator, nat: nat, handOffs: a.handOffs + b.handOffs)
    }
}

/// One worker's counters (the threads of its directions summed) and where it runs.
public struct WorkerSnapshot {
    public let index: Int
    public let cpu: Int?
    public let totals: Snapshot

    public init(index: Int, cpu: Int?, totals: Snapshot) {
        (self.index, self.cpu, self.totals) = (index, cpu, totals)
    }
}

extension Snapshot {
    public func direction(_ index: Int) -> DirectionCounters { index == 0 ? directions.0 : directions.1 }
}
