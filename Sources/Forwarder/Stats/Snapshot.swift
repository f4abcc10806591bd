import BufferCache
import Nat44
import Pipeline

/// The counters of every worker summed, as of their last publish: the values the stats line
/// and the summaries are built from.
struct Snapshot {
    /// `.0` is IN -> OUT, `.1` OUT -> IN.
    var directions = (DirectionCounters(), DirectionCounters())
    var allocator = AllocatorCounters()
    /// The NAT gateways' counters in `--vlan-nat` mode (each worker owns one).
    var nat: NatCounters?
    var handOffs = HandOffCounters()

    static func + (a: Snapshot, b: Snapshot) -> Snapshot {
        var nat = a.nat ?? b.nat
        if let x = a.nat, let y = b.nat { nat = x + y }
        return Snapshot(directions: (a.directions.0 + b.directions.0, a.directions.1 + b.directions.1),
                        allocator: a.allocator + b.allocator, nat: nat, handOffs: a.handOffs + b.handOffs)
    }
}

/// One worker's counters (the threads of its directions summed) and where it runs.
struct WorkerSnapshot {
    let index: Int
    let cpu: Int?
    let totals: Snapshot
}

extension Options {
    /// The directions this run has: (name, from, to, index into `Snapshot.directions`).
    var directions: [(name: String, from: String, to: String, index: Int)] {
        var list = [("in->out", inName, outName, 0)]
        if !oneWay { list.append(("out->in", outName, inName, 1)) }
        return list
    }
}

extension Snapshot {
    func direction(_ index: Int) -> DirectionCounters { index == 0 ? directions.0 : directions.1 }
}
