/// Why a frame was not sent. One counter per reason per direction; the names are the keys of
/// `drops_by_reason` in the JSON summary and the words in the stats line.
enum DropReason: Int, CaseIterable, Sendable {
    /// Send failed after bounded retries (socket buffer full), or the kernel refused the frame.
    case txFailed
    /// Bigger than the egress MTU plus link header, or truncated by the capture: GRO/LRO on the
    /// input, or TSO/GSO on a sender on the same host.
    case oversize
    /// No packet head could be had (pool at its cap).
    case noBuffer
    /// `--vlan-map`: no mapping for the frame's VLAN tags.
    case vlanUnmapped
    /// Headers cut short or inconsistent.
    case malformed
    /// A tag push needed more headroom than the head has.
    case noHeadroom
    /// `--vlan-nat` dropped it; the NAT's own counters (`nat.drops`) say why.
    case nat

    var name: String {
        switch self {
        case .txFailed: "tx_failed"
        case .oversize: "oversize"
        case .noBuffer: "no_buffer"
        case .vlanUnmapped: "vlan_unmapped"
        case .malformed: "malformed"
        case .noHeadroom: "no_headroom"
        case .nat: "nat"
        }
    }
}

/// Counters of one direction (frames received on its input port, sent on its output port).
/// Plain integers owned by one worker; the runner sums snapshots.
struct DirectionCounters: Sendable {
    var rxFrames: UInt64 = 0
    var rxBytes: UInt64 = 0
    var txFrames: UInt64 = 0
    var txBytes: UInt64 = 0
    /// Indexed by `DropReason.rawValue`. Inline storage: copying a snapshot never shares a heap
    /// buffer, so counting never triggers a copy-on-write allocation.
    var drops = InlineArray<8, UInt64>(repeating: 0)

    var dropsTotal: UInt64 {
        var total: UInt64 = 0
        for i in drops.indices { total &+= drops[i] }
        return total
    }

    subscript(reason: DropReason) -> UInt64 { drops[reason.rawValue] }

    @inline(__always)
    mutating func drop(_ reason: DropReason, count: UInt64 = 1) {
        drops[reason.rawValue] &+= count
    }

    static func + (a: DirectionCounters, b: DirectionCounters) -> DirectionCounters {
        var s = a
        s.rxFrames += b.rxFrames
        s.rxBytes += b.rxBytes
        s.txFrames += b.txFrames
        s.txBytes += b.txBytes
        for i in s.drops.indices { s.drops[i] += b.drops[i] }
        return s
    }
}
