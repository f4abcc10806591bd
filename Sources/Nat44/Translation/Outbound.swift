import BufferCache
import Pipeline

extension NatGateway {
    /// Inside → outside: the source becomes the outside address and the session's port.
    @inline(__always)
    mutating func outbound<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, nextHop: UInt32,
                                                         _ allocator: inout A) -> NatVerdict {
        let proto: NatProtocol
        switch L4Kind(pkt, queryType: ICMPType.echoRequest) {
        case .mapped(let p):
            proto = p
        case .icmpError:
            return outboundICMPError(pkt, nextHop: nextHop, &allocator)
        case .malformed:
            return drop(.malformed)
        case .echoRequest, .other:
            return drop(.unsupported)
        }
        let outside = sides.outside
        if pkt.ttl <= 1 { return timeExceeded(pkt, &allocator) }
        if pkt.total > outside.mtu { return tooBig(pkt, mtu: outside.mtu, &allocator) }
        let sport = pkt.l4.readBE16(proto.portOffset(.source))
        let s: SessionIndex
        switch outboundSession(pkt, proto, sport: sport, &allocator) {
        case .session(let i): s = i
        case .refused(let verdict): return verdict
        }
        let ext = sessions[s].extPort
        var delta = RewriteDelta()
        pkt.rewriteAddress(.source, to: outside.address, &delta)
        pkt.rewritePort(proto, .source, from: sport, to: ext, &delta)
        counters.translatedOutbound &+= 1
        return forwardTranslated(pkt, proto, delta, to: .outside, nextHop: nextHop, &allocator)
    }
}
