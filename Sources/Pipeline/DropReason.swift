/// Why a frame was not sent. One counter per reason per direction (`DirectionCounters`).
public enum DropReason: Int, CaseIterable, Sendable {
    /// Send failed after bounded retries (socket buffer full), or the kernel refused the frame.
    case txFailed
    /// Bigger than the egress MTU plus link header, or truncated by the capture: GRO/LRO on the
    /// input, or TSO/GSO on a sender on the same host.
    case oversize
    /// No packet head could be had (pool at its cap).
    case noBuffer
    /// The processor has no mapping for the frame (a `--vlan-map` without its VLAN tags).
    case unmapped
    /// Headers cut short or inconsistent.
    case malformed
    /// A header push needed more headroom than the head has.
    case noHeadroom
    /// The processor dropped it for a reason of its own, which it counts in its own counters
    /// (the NAT gateway's `drops`).
    case processor
    /// Owned by another worker, whose hand-off lane was full (or the run was stopping).
    case handOff
}

extension DropReason {
    /// The reason's name: its key in the JSON `drops_by_reason`, its `reason` label in the
    /// metrics, and the start of its comment in a drop capture.
    public var key: String {
        switch self {
        case .txFailed: "tx_failed"
        case .oversize: "oversize"
        case .noBuffer: "no_buffer"
        case .unmapped: "vlan_unmapped"
        case .malformed: "malformed"
        case .noHeadroom: "no_headroom"
        case .processor: "nat"
        case .handOff: "hand_off"
        }
    }
}
