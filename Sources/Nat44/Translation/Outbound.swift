import BufferCache
import Pipeline

extension NatGateway {
    /// Inside → outside: the source becomes the outside address and the session's port.
    @inline(__always)
    mutating func outbound<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, nextHop: UInt32, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let proto: NatProtocol
        switch L4Kind(pkt, queryType: ICMPType.echoRequest) {
        case .mapped(let p):
            proto = p
        case .icmpError:
            return outboundICMPError(head, pkt, nextHop: nextHop, now, &allocator)
        case .malformed:
            return drop(.malformed)
        case .echoRequest, .other:
            return drop(.unsupported)
        }
        let outside = sides.outside
        if pkt.ttl <= 1 { return timeExceeded(head, pkt, side: .inside, now, &allocator) }
        if pkt.total > outside.mtu { return tooBig(head, pkt, side: .inside, mtu: outside.mtu, now, &allocator) }
        let sport = pkt.l4.readBE16(proto.portOffset(.source))
        let s: SessionIndex
        switch outboundSession(SessionKey(proto: proto, address: pkt.src, port: sport), l4: pkt.l4, now: now) {
        case .session(let i): s = i
        case .tableFull: return drop(.tableFull)
        case .portsExhausted: return drop(.portsExhausted)
        }
        let ext = sessions[s].extPort
        var delta = RewriteDelta()
        pkt.rewriteAddress(.source, to: outside.address, &delta)
        pkt.rewritePort(proto, .source, from: sport, to: ext, &delta)
        pkt.finishRewrite(proto, delta)
        if pkt.moreFragments {
            recordFirstFragment(head, .inside, pkt, newSrc: outside.address, newDst: pkt.dst, egress: .outside,
                                nextHop: nextHop, now, &allocator)
        }
        counters.translatedOutbound &+= 1
        return egress(head, l2: pkt.l2, pcp: pkt.pcp, to: .outside, nextHop: nextHop, now, &allocator)
    }
}
