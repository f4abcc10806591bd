import CXdp

/// One interface's AF_XDP socket counters, summed over the workers' pairs: the port's own (what
/// it took, sent, copied and gave back) and the kernel's XDP_STATISTICS (what it dropped and
/// why). For the summary: a TX that is not all zero-copy, a fill ring that ran dry or a TX ring
/// that filled up are what to look at when AF_XDP is slower than expected.
public struct XdpSocketCounters: Sendable, Equatable {
    /// Taken off the RX ring; put on the TX ring, `txCopied` of them copied (frames the
    /// forwarder generated; the rest went by address, without a copy); TX completions taken.
    public var rxFrames: UInt64 = 0, txFrames: UInt64 = 0, txCopied: UInt64 = 0, txCompleted: UInt64 = 0
    /// Received frames given back to the fill ring without being sent (drops, freed heads,
    /// filtered); of `rxFrames`, rejected by `--filter` (never seen by the pipeline, as with
    /// pcap's kernel filter, but unlike it not left to the kernel stack either).
    public var recycled: UInt64 = 0, filtered: UInt64 = 0
    /// sendto() kicks that failed for another reason than a full ring.
    public var kickErrors: UInt64 = 0
    /// XDP_STATISTICS: dropped by the kernel (RX ring full, no fill frame, ...) and its reasons.
    public var rxDropped: UInt64 = 0, rxRingFull: UInt64 = 0, rxFillRingEmpty: UInt64 = 0
    public var rxInvalidDescriptors: UInt64 = 0, txInvalidDescriptors: UInt64 = 0, txRingEmpty: UInt64 = 0

    public init() {}

    init(_ c: cxdp_counters) {
        (rxFrames, txFrames, txCopied, txCompleted, recycled, filtered, kickErrors) =
            (c.rx_frames, c.tx_frames, c.tx_copied, c.tx_completed, c.recycled, c.filtered, c.kick_errors)
        (rxDropped, rxRingFull, rxFillRingEmpty, rxInvalidDescriptors, txInvalidDescriptors, txRingEmpty) =
            (c.rx_dropped, c.rx_ring_full, c.rx_fill_ring_empty, c.rx_invalid_descs, c.tx_invalid_descs, c.tx_ring_empty)
    }

    /// Every counter: its JSON key, a line saying what it counts (the metrics file's HELP), and
    /// where it is. The summary, the metrics and `+` all go through this one list.
    private static let table: [(key: String, help: String, path: any WritableKeyPath<XdpSocketCounters, UInt64> & Sendable)] = [
        ("rx_frames", "frames taken off the RX ring", \.rxFrames), ("tx_frames", "frames put on the TX ring", \.txFrames),
        ("tx_copied", "TX frames copied into the UMEM (generated ones; the rest went by address)", \.txCopied),
        ("tx_completed", "TX completions taken", \.txCompleted),
        ("recycled", "received frames given back to the fill ring unsent", \.recycled),
        ("filtered", "received frames that --filter rejected", \.filtered), ("kick_errors", "sendto kicks that failed", \.kickErrors),
        ("rx_dropped", "XDP_STATISTICS: frames the kernel dropped", \.rxDropped),
        ("rx_ring_full", "XDP_STATISTICS: drops because the RX ring was full", \.rxRingFull),
        ("rx_fill_ring_empty", "XDP_STATISTICS: drops because the fill ring was empty", \.rxFillRingEmpty),
        ("rx_invalid_descs", "XDP_STATISTICS: invalid RX descriptors", \.rxInvalidDescriptors),
        ("tx_invalid_descs", "XDP_STATISTICS: invalid TX descriptors", \.txInvalidDescriptors),
        ("tx_ring_empty", "XDP_STATISTICS: times the kernel found the TX ring empty", \.txRingEmpty),
    ]

    /// The summary's JSON keys in order, with their HELP lines and values.
    public var fields: [(key: String, help: String, value: UInt64)] {
        Self.table.map { ($0.key, $0.help, self[keyPath: $0.path]) }
    }

    public static func + (l: XdpSocketCounters, r: XdpSocketCounters) -> XdpSocketCounters {
        var s = l
        for entry in table { s[keyPath: entry.path] &+= r[keyPath: entry.path] }
        return s
    }
}

extension XdpPair {
    /// `side`'s counters as `XdpSocketCounters`; nil if XDP_STATISTICS could not be read.
    public func socketCounters(side: Int) -> XdpSocketCounters? { counters(side: side).map(XdpSocketCounters.init) }
}
