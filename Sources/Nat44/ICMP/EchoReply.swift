import BufferCache
import PacketFormats
import Pipeline

/// Packets for the gateway itself: an echo request to either address is answered (in the
/// request's own head), everything else is dropped as `toGateway`.
extension NatGateway {
    /// Inside → the inside address (or ICMP to the outside address).
    @inline(never)
    mutating func toOwnAddress(_ pkt: NatPacket) -> NatVerdict {
        if pkt.isICMP {
            guard pkt.l4Length >= 8 else { return drop(.malformed) }
            if pkt.l4.readU8(0) == ICMPType.echoRequest { return echoReply(pkt) }
        }
        return drop(.toGateway)
    }

    /// Answers an echo request to one of the gateway's addresses in place.
    @inline(never)
    mutating func echoReply(_ pkt: NatPacket) -> NatVerdict {
        if pkt.moreFragments { return drop(.fragment) }
        let ip = pkt.ip
        let icmp = pkt.l4
        let len = pkt.l4Length
        guard len >= 8 else { return drop(.malformed) }
        guard InternetChecksum.verify(icmp, count: len) else { return drop(.badChecksum) }
        sides[pkt.side].returnToSender(pkt.head.data)
        ip.writeBE32(pkt.dst, 12)
        ip.writeBE32(pkt.src, 16)
        ip.writeU8(64, 8)
        ip.writeBE16(0, 10)
        ip.writeBE16(InternetChecksum.compute(ip, count: pkt.ihl), 10)
        // Only the type changes (echo request → reply): the checksum follows the type/code word.
        let code = UInt16(icmp.readU8(1))
        icmp.writeU8(ICMPType.echoReply, 0)
        icmp.adjustChecksum(at: 2, by: InternetChecksum.delta(UInt16(ICMPType.echoRequest) << 8 | code,
                                                              UInt16(ICMPType.echoReply) << 8 | code))
        counters.echoRepliesSent &+= 1
        return .forward(pkt.side)
    }
}
