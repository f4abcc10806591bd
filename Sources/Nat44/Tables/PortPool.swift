/// The external ports (TCP, UDP) and echo identifiers (ICMP) in use: one bit each per protocol.
///
/// A bit stays set while any session holds the port, an expired one not yet reclaimed included,
/// and for good when a static forward reserves it: a port in use is never handed out twice (RFC
/// 4787 REQ-3, no port overloading).
///
/// With several workers each pool hands out only its worker's share (`NatWorkerShare`: whole
/// 64-port words), so no two workers' gateways ever pick the same port; `take` (forwards,
/// sessions) is not restricted.
struct PortPool: ~Copyable {
    /// 1024 words of 64 bits per protocol, indexed by `NatProtocol.index`.
    private let bits = NatArray<UInt64>(repeating: 0, count: 3 * 1024)
    let share: NatWorkerShare

    init(share: NatWorkerShare = .single) { self.share = share }

    @inline(__always)
    private func word(_ proto: NatProtocol, _ port: UInt16) -> Int { proto.index * 1024 + Int(port >> 6) }

    @inline(__always)
    private func bit(_ port: UInt16) -> UInt64 { 1 << UInt64(port & 63) }

    func isUsed(_ proto: NatProtocol, _ port: UInt16) -> Bool {
        bits[word(proto, port)] & bit(port) != 0
    }

    func take(_ proto: NatProtocol, _ port: UInt16) { bits[word(proto, port)] |= bit(port) }

    func release(_ proto: NatProtocol, _ port: UInt16) { bits[word(proto, port)] &= ~bit(port) }

    /// A free port for a flow from `preferred` (RFC 4787 REQ-3/REQ-4): `preferred` itself when
    /// free; else the next free port above it of the same parity in the same range (1–1023 or
    /// 1024–65535), wrapping within the range. ICMP identifiers use the whole 0–65535 space
    /// without parity. Nil when the range is exhausted. Scans 64 ports per word, and only the
    /// words of this pool's share: `preferred` itself is kept only when it is in the share.
    @inline(never)
    func allocate(_ proto: NatProtocol, preferred: UInt16) -> UInt16? {
        if proto == .icmp {
            return findFree(proto, from: Int(preferred), lo: 0, hi: 65535, parityMask: ~0)
        }
        if preferred != 0 && !isUsed(proto, preferred) && share.ownsBlock(Int(preferred >> 6)) { return preferred }
        let low = preferred < 1024
        let parityMask: UInt64 = preferred & 1 == 0 ? 0x5555_5555_5555_5555 : 0xAAAA_AAAA_AAAA_AAAA
        return findFree(proto, from: Int(preferred), lo: low ? 1 : 1024, hi: low ? 1023 : 65535,
                        parityMask: parityMask)
    }

    private func findFree(_ proto: NatProtocol, from start: Int, lo: Int, hi: Int, parityMask: UInt64) -> UInt16? {
        let base = proto.index * 1024
        var port = Swift.max(Swift.min(start, hi), lo)
        let words = (hi >> 6) - (lo >> 6) + 2
        for _ in 0..<words {
            let w = port >> 6
            var free = share.ownsBlock(w) ? ~bits[base + w] & parityMask & (~UInt64(0) << UInt64(port & 63)) : 0
            if w == lo >> 6 { free &= ~UInt64(0) << UInt64(lo & 63) }
            if w == hi >> 6 { free &= ~UInt64(0) >> UInt64(63 - (hi & 63)) }
            if free != 0 { return UInt16(w << 6 | free.trailingZeroBitCount) }
            port = (w + 1) << 6
            if port > hi { port = lo }
        }
        return nil
    }
}
