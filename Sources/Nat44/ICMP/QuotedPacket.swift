import PacketFormats

/// The packet quoted in an ICMP error (RFC 792: its IP header and at least 8 bytes of what
/// followed): where its header and transport bytes are in the error, and whose session it is.
struct QuotedPacket {
    let ip: UnsafeMutableRawPointer
    let l4: UnsafeMutableRawPointer
    let l4Length: Int
    let proto: NatProtocol
    let src: UInt32
    let dst: UInt32

    enum Parse {
        case quoted(QuotedPacket)
        case rejected(NatDropReason)
    }

    /// Validates an ICMP error (length, full ICMP checksum: RFC 5508 REQ-3) and the header it
    /// quotes.
    static func parse(_ pkt: NatPacket) -> Parse {
        let icmp = pkt.l4
        let len = pkt.l4Length
        if pkt.moreFragments { return .rejected(.fragment) }
        guard len >= 8 + 20 + 8 else { return .rejected(.malformed) }
        guard InternetChecksum.verify(icmp, count: len) else { return .rejected(.badChecksum) }
        let e = icmp + 8
        let v = e.readU8(0)
        let eihl = Int(v & 0x0F) << 2
        guard v >> 4 == 4, eihl >= 20, 8 + eihl + 8 <= len else { return .rejected(.malformed) }
        // A quoted later fragment carries no ports: nothing to match.
        guard e.readBE16(6) & 0x1FFF == 0 else { return .rejected(.noSession) }
        let proto: NatProtocol
        switch e.readU8(9) {
        case NatProtocol.tcp.rawValue: proto = .tcp
        case NatProtocol.udp.rawValue: proto = .udp
        case NatProtocol.icmp.rawValue:
            let t = (e + eihl).readU8(0)
            guard t == ICMPType.echoRequest || t == ICMPType.echoReply else { return .rejected(.noSession) }
            proto = .icmp
        default: return .rejected(.noSession)
        }
        return .quoted(QuotedPacket(ip: e, l4: e + eihl, l4Length: len - 8 - eihl, proto: proto,
                                    src: e.readBE32(12), dst: e.readBE32(16)))
    }

    /// The port (or echo identifier) on the `field` end.
    func port(_ field: AddressField) -> UInt16 { l4.readBE16(proto.portOffset(field)) }

    /// Rewrites one end (address and port) of the quoted packet and fixes its IPv4 and transport
    /// checksums (RFC 5508 REQ-4/5: both). Returns the sum of every word changed, for the outer
    /// ICMP checksum, which covers the quote.
    func rewrite(_ field: AddressField, to newAddress: UInt32, port newPort: UInt16) -> UInt32 {
        let delta = RewriteDelta(address: InternetChecksum.delta(field == .source ? src : dst, newAddress),
                                 port: InternetChecksum.delta(port(field), newPort))
        var icmpDelta = delta.address &+ delta.port
        ip.writeBE32(newAddress, field.offset)
        icmpDelta &+= ip.adjustChecksum(at: 10, by: delta.address)
        l4.writeBE16(newPort, proto.portOffset(field))
        // The quote may stop before a TCP checksum (only 8 bytes of it are guaranteed).
        if proto != .tcp || l4Length >= 18 { icmpDelta &+= l4.adjustTransportChecksum(proto, delta) }
        return icmpDelta
    }
}
