import BufferCache
import Pipeline

extension NatGateway {
    /// Outside → the outside address: a session's return traffic, a port forward, or for us.
    @inline(__always)
    mutating func inbound<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let proto: NatProtocol
        switch L4Kind(pkt, queryType: ICMPType.echoReply) {
        case .mapped(let p):
            proto = p
        case .echoRequest:
            return echoReply(head, pkt, side: .outside)
        case .icmpError:
            return inboundICMPError(head, pkt, now, &allocator)
        case .malformed:
            return drop(.malformed)
        case .other(let isICMP):
            return drop(isICMP ? .unsupported : .toGateway)
        }
        let dport = pkt.l4.readBE16(proto.portOffset(.destination))
        guard let match = matchInbound(proto, port: dport, now: now) else { return drop(.noSession) }
        // A forward's session starts with a real segment, never with a stray RST.
        if case .forward = match, proto == .tcp, TCPFlags(pkt.l4.readU8(TCPFlags.offset)).rst {
            return drop(.noSession)
        }
        let inside = sides.inside
        if pkt.ttl <= 1 { return timeExceeded(head, pkt, side: .outside, now, &allocator) }
        if pkt.total > inside.mtu { return tooBig(head, pkt, side: .outside, mtu: inside.mtu, now, &allocator) }
        guard let s = establishInbound(match, proto, l4: pkt.l4, now: now) else { return drop(.tableFull) }
        let session = sessions[s]
        var delta = RewriteDelta()
        pkt.rewriteAddress(.destination, to: session.inAddr, &delta)
        pkt.rewritePort(proto, .destination, from: dport, to: session.inPort, &delta)
        pkt.finishRewrite(proto, delta)
        if pkt.moreFragments {
            recordFirstFragment(head, .outside, pkt, newSrc: pkt.src, newDst: session.inAddr, egress: .inside,
                                nextHop: session.inAddr, now, &allocator)
        }
        counters.translatedInbound &+= 1
        return egress(head, l2: pkt.l2, pcp: pkt.pcp, to: .inside, nextHop: session.inAddr, now, &allocator)
    }
}
