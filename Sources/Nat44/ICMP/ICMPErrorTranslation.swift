import BufferCache
import Pipeline

/// ICMP errors in transit (RFC 5508 REQ-3/4/5, RFC 5382 REQ-9): an error about a translated
/// packet quotes it as it was on the error's side of the gateway, so the quote is translated
/// back along with the outer header. The session is looked up, never refreshed or reclaimed
/// (UDP REQ-12, TCP REQ-10, ICMP REQ-6).
extension NatGateway {
    /// An inside host's ICMP error about a packet it received through the gateway: the quoted
    /// packet's destination is that host; it becomes the outside address and external port.
    @inline(never)
    mutating func outboundICMPError<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, nextHop: UInt32,
                                                                  _ allocator: inout A) -> NatVerdict {
        let q: QuotedPacket
        switch QuotedPacket.parse(pkt) {
        case .quoted(let found): q = found
        case .rejected(let reason): return drop(reason)
        }
        let key = SessionKey(proto: q.proto, address: q.dst, port: q.port(.destination))
        guard let s = sessions.find(key), sessions[s].expires > pkt.now else { return drop(.noSession) }
        return forwardError(pkt, q, quotedEnd: .destination, to: sides.outside.address, port: sessions[s].extPort,
                            egress: .outside, nextHop: nextHop, &allocator)
    }

    /// An outside ICMP error about a packet the gateway sent: the quoted packet's source is the
    /// outside address and an external port; it becomes the inside endpoint.
    @inline(never)
    mutating func inboundICMPError<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ allocator: inout A) -> NatVerdict {
        let q: QuotedPacket
        switch QuotedPacket.parse(pkt) {
        case .quoted(let found): q = found
        case .rejected(let reason): return drop(reason)
        }
        guard q.src == sides.outside.address else { return drop(.noSession) }
        guard let s = sessions.find(q.proto, externalPort: q.port(.source)), sessions[s].expires > pkt.now else {
            return drop(.noSession)
        }
        let session = sessions[s]
        return forwardError(pkt, q, quotedEnd: .source, to: session.inAddr, port: session.inPort,
                            egress: .inside, nextHop: session.inAddr, &allocator)
    }

    /// Translates the quote's `quotedEnd` to (`address`, `port`) and the outer header's other end
    /// to the same address (the error travels the opposite way from the packet it quotes), then
    /// sends the error on.
    private mutating func forwardError<A: HeadAllocator & ~Copyable>(
        _ pkt: NatPacket, _ q: QuotedPacket, quotedEnd: AddressField, to address: UInt32, port: UInt16,
        egress side: Side, nextHop: UInt32, _ allocator: inout A
    ) -> NatVerdict {
        if pkt.ttl <= 1 { return drop(.ttlExceeded) }
        if pkt.total > sides[side].mtu { return drop(.tooBig) }
        pkt.l4.adjustChecksum(at: 2, by: q.rewrite(quotedEnd, to: address, port: port))
        var delta = RewriteDelta()
        pkt.rewriteAddress(quotedEnd.other, to: address, &delta)
        pkt.finishIPv4Header(delta.address)
        counters.icmpErrorsTranslated &+= 1
        if side == .outside { counters.translatedOutbound &+= 1 } else { counters.translatedInbound &+= 1 }
        return egress(pkt, to: side, nextHop: nextHop, &allocator)
    }
}
