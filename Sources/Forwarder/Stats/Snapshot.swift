import BufferCache
import Nat44
import Pipeline

/// The counters of every worker summed, as of their last publish: what the stats line and the
/// summaries are built from.
struct Snapshot {
    var directions = (DirectionCounters(), DirectionCounters())
    var allocator = AllocatorCounters()
    var nat: NatCounters?
}

extension DropReason {
    /// The reason's name in the stats line and the key in `drops_by_reason`.
    var key: String {
        switch self {
        case .txFailed: "tx_failed"
        case .oversize: "oversize"
        case .noBuffer: "no_buffer"
        case .unmapped: "vlan_unmapped"
        case .malformed: "malformed"
        case .noHeadroom: "no_headroom"
        case .processor: "nat"
        }
    }
}
