import PacketFormats

/// TCP MSS clamping (`--mss-clamp`): the MSS option of a SYN or SYN-ACK above the limit is
/// lowered in place, the checksum change added to the translation's own so that the TCP checksum
/// is updated once. Segments without the option are left alone (RFC 9293 3.7.1 then assumes 536,
/// below any limit the gateway accepts).
extension NatPacket {
    /// The checksum change of lowering this segment's MSS option to `limit`, 0 when nothing
    /// changed: no SYN, no MSS option, or an MSS within the limit. The caller has seen a whole
    /// 20-byte TCP header; options beyond the packet's end are not read.
    @inline(never)
    func clampMSS(to limit: UInt16) -> UInt32 {
        let tcp = l4
        guard TCPFlags(tcp.readU8(TCPFlags.offset)).syn else { return 0 }
        let headerLength = Int(tcp.readU8(12) >> 4) << 2
        let end = min(headerLength, l4Length)
        var at = 20
        while at < end {
            let kind = tcp.readU8(at)
            if kind == 0 { return 0 }
            if kind == 1 { at += 1; continue }
            guard at + 1 < end else { return 0 }
            let length = Int(tcp.readU8(at + 1))
            guard length >= 2, at + length <= end else { return 0 }
            if kind == 2 && length == 4 {
                let mss = tcp.readBE16(at + 2)
                guard mss > limit else { return 0 }
                return Self.rewriteWord(tcp, at: at + 2, to: limit)
            }
            at += length
        }
        return 0
    }

    /// Writes a 16-bit value at `offset` (which may be odd: options are not aligned) and returns
    /// the change of the checksum words it spans.
    private static func rewriteWord(_ p: UnsafeMutableRawPointer, at offset: Int, to value: UInt16) -> UInt32 {
        let first = offset & ~1
        guard offset & 1 == 1 else {
            let old = p.readBE16(first)
            p.writeBE16(value, first)
            return InternetChecksum.delta(old, value)
        }
        let old = (p.readBE16(first), p.readBE16(first + 2))
        p.writeBE16(value, offset)
        return InternetChecksum.delta(old.0, p.readBE16(first)) &+ InternetChecksum.delta(old.1, p.readBE16(first + 2))
    }
}
