import BufferCache
import Pipeline

extension NatGateway {
    /// Outside → the outside address: a session's return traffic, a port forward, or for us.
    @inline(__always)
    mutating func inbound<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ allocator: inout A) -> NatVerdict {
        let proto: NatProtocol
        switch L4Kind(pkt, queryType: ICMPType.echoReply) {
        case .mapped(let p):
            proto = p
        case .echoRequest:
            return echoReply(pkt)
        case .icmpError:
            return inboundICMPError(pkt, &allocator)
        case .malformed:
            return drop(.malformed)
        case .other(let isICMP):
            return drop(isICMP ? .unsupported : .toGateway)
        }
        let dport = pkt.l4.readBE16(proto.portOffset(.destination))
        guard let match = matchInbound(proto, port: dport, now: pkt.now) else { return drop(.noSession) }
        // A forward's session starts with a real segment, never with a stray RST.
        if case .forward = match, proto == .tcp, TCPFlags(pkt.l4.readU8(TCPFlags.offset)).rst {
            return drop(.noSession)
        }
        let inside = sides.inside
        if pkt.ttl <= 1 { return timeExceeded(pkt, &allocator) }
        if pkt.total > inside.mtu { return tooBig(pkt, mtu: inside.mtu, &allocator) }
        guard let s = establishInbound(match, proto, l4: pkt.l4, now: pkt.now) else { return drop(.tableFull) }
        let session = sessions[s]
        var delta = RewriteDelta()
        pkt.rewriteAddress(.destination, to: session.inAddr, &delta)
        pkt.rewritePort(proto, .destination, from: dport, to: session.inPort, &delta)
        counters.translatedInbound &+= 1
        return forwardTranslated(pkt, proto, delta, to: .inside, nextHop: session.inAddr, &allocator)
    }
}
