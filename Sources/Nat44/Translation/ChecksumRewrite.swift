import PacketFormats

// Every rewrite of a forwarded packet updates its checksums incrementally (RFC 1624) instead of
// recomputing them: the changed words are summed into a delta, and the delta is applied once to
// each checksum that covers them (the address change to both the IPv4 header and the TCP/UDP
// pseudo-header), so a 1500-byte segment costs the same as a 64-byte one.

/// The checksum change of a translation so far: the address words (covered by the IPv4 header
/// and the TCP/UDP pseudo-header) and the port or identifier words (covered by the transport
/// checksum only), apart because ICMP's checksum has no pseudo-header.
struct RewriteDelta {
    var address: UInt32 = 0
    var port: UInt32 = 0
}

extension UnsafeMutableRawPointer {
    /// Applies `delta` to the checksum at `offset`; returns the checksum word's own change, for
    /// an enclosing checksum that covers it (the ICMP checksum over a quoted packet).
    @inline(__always) @discardableResult
    func adjustChecksum(at offset: Int, by delta: UInt32) -> UInt32 {
        let old = readBE16(offset)
        let new = InternetChecksum.apply(old, delta)
        writeBE16(new, offset)
        return InternetChecksum.delta(old, new)
    }

    /// Applies an address and port change to the TCP, UDP or ICMP checksum of the transport
    /// header here; returns the checksum word's own change. A UDP checksum of 0 ("none") stays
    /// 0; a computed 0 is sent as 0xFFFF (RFC 768). ICMP: no pseudo-header, only the identifier.
    @inline(__always) @discardableResult
    func adjustTransportChecksum(_ proto: NatProtocol, _ delta: RewriteDelta) -> UInt32 {
        switch proto {
        case .tcp:
            return adjustChecksum(at: proto.checksumOffset, by: delta.address &+ delta.port)
        case .udp:
            let old = readBE16(proto.checksumOffset)
            guard old != 0 else { return 0 }
            let sum = InternetChecksum.apply(old, delta.address &+ delta.port)
            let new = sum == 0 ? 0xFFFF : sum
            writeBE16(new, proto.checksumOffset)
            return InternetChecksum.delta(old, new)
        case .icmp:
            return adjustChecksum(at: proto.checksumOffset, by: delta.port)
        }
    }
}

extension NatPacket {
    /// Decrements the TTL in place; returns the change of the TTL/protocol word.
    @inline(__always)
    func decrementTTL() -> UInt32 {
        let proto = UInt16(self.proto)
        ip.writeU8(ttl &- 1, 8)
        return InternetChecksum.delta(UInt16(ttl) << 8 | proto, UInt16(ttl &- 1) << 8 | proto)
    }

    /// Rewrites the address of one end of the packet; adds its change to `delta`.
    @inline(__always)
    func rewriteAddress(_ field: AddressField, to new: UInt32, _ delta: inout RewriteDelta) {
        delta.address &+= InternetChecksum.delta(field == .source ? src : dst, new)
        ip.writeBE32(new, field.offset)
    }

    /// Rewrites the port (or ICMP identifier) of one end from `old`; adds its change to `delta`.
    @inline(__always)
    func rewritePort(_ proto: NatProtocol, _ field: AddressField, from old: UInt16, to new: UInt16,
                     _ delta: inout RewriteDelta) {
        delta.port &+= InternetChecksum.delta(old, new)
        l4.writeBE16(new, proto.portOffset(field))
    }

    /// Completes a translation once its addresses and ports are rewritten: TTL decremented, IPv4
    /// header checksum and transport checksum updated.
    @inline(__always)
    func finishRewrite(_ proto: NatProtocol, _ delta: RewriteDelta) {
        finishIPv4Header(delta.address)
        l4.adjustTransportChecksum(proto, delta)
    }

    /// Decrements the TTL and updates the IPv4 header checksum for it and for `addressDelta`.
    @inline(__always)
    func finishIPv4Header(_ addressDelta: UInt32) {
        ip.adjustChecksum(at: 10, by: addressDelta &+ decrementTTL())
    }
}
