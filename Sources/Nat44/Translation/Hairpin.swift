import BufferCache
import Pipeline

extension NatGateway {
    /// Inside → the outside address (UDP REQ-9, TCP REQ-8): to the inside host behind the
    /// destination port's mapping, with the source translated to its own mapping, so each host
    /// sees the other as the outside would. ICMP goes to `toOwnAddress` (echo is answered).
    @inline(never)
    mutating func hairpin<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ allocator: inout A) -> NatVerdict {
        let proto: NatProtocol
        switch pkt.proto {
        case NatProtocol.icmp.rawValue:
            return toOwnAddress(pkt)
        case NatProtocol.tcp.rawValue, NatProtocol.udp.rawValue:
            guard case .mapped(let p) = L4Kind(pkt, queryType: ICMPType.echoRequest) else { return drop(.malformed) }
            proto = p
        default:
            return drop(.toGateway)
        }
        let sport = pkt.l4.readBE16(proto.portOffset(.source))
        let dport = pkt.l4.readBE16(proto.portOffset(.destination))
        guard let match = matchInbound(proto, port: dport, now: pkt.now) else { return drop(.toGateway) }
        let inside = sides.inside
        if pkt.ttl <= 1 { return timeExceeded(pkt, &allocator) }
        if pkt.total > inside.mtu { return tooBig(pkt, mtu: inside.mtu, &allocator) }
        guard let t = establishInbound(match, proto, l4: pkt.l4, now: pkt.now) else { return drop(.tableFull) }
        let s: SessionIndex
        switch outboundSession(SessionKey(proto: proto, address: pkt.src, port: sport), l4: pkt.l4, now: pkt.now,
                               sparing: t) {
        case .session(let i): s = i
        case .tableFull: return drop(.tableFull)
        case .portsExhausted: return drop(.portsExhausted)
        }
        let target = sessions[t]
        let outside = sides.outside
        var delta = RewriteDelta()
        pkt.rewriteAddress(.source, to: outside.address, &delta)
        pkt.rewriteAddress(.destination, to: target.inAddr, &delta)
        pkt.rewritePort(proto, .source, from: sport, to: sessions[s].extPort, &delta)
        pkt.rewritePort(proto, .destination, from: dport, to: target.inPort, &delta)
        counters.hairpinned &+= 1
        return forwardTranslated(pkt, proto, delta, to: .inside, nextHop: target.inAddr, &allocator)
    }
}
