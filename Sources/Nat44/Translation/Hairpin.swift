import BufferCache
import PacketFormats
import Pipeline

extension NatGateway {
    /// Inside → the outside address (UDP REQ-9, TCP REQ-8): to the inside host behind the
    /// destination port's mapping, with the source translated to its own mapping, so each host
    /// sees the other as the outside would. ICMP goes to `toOwnAddress` (echo is answered).
    /// With several workers the source's owner (where the packet was steered) does this when it
    /// also owns the destination port; otherwise `hairpinSource` and `hairpinDestination`.
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
        if share.count > 1 && share.owner(of: dport) != share.index {
            return hairpinSource(pkt, proto, sport: sport, to: share.owner(of: dport), &allocator)
        }
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
        case .hostQuota: return refuseOverQuota(pkt, proto, &allocator)
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

/// Hairpinning across workers: the destination's mapping lives on the owner of the destination
/// port, the source's on this worker. This worker translates the source (its session found or
/// created, TTL decremented, checksums updated: the packet is now as the outside address would
/// send it) and hands it on marked `hairpin`; the destination's owner translates the destination.
/// Unlike on one worker the source's mapping is made before the destination is known to be
/// mapped (then the destination's owner drops it as `toGateway`), and a fragmented hairpinned
/// datagram's later fragments are not followed (dropped as `fragment` after the hold time).
extension NatGateway {
    @inline(never)
    mutating func hairpinSource<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ proto: NatProtocol, sport: UInt16,
                                                             to owner: Int, _ allocator: inout A) -> NatVerdict {
        if pkt.ttl <= 1 { return timeExceeded(pkt, &allocator) }
        if pkt.total > sides.inside.mtu { return tooBig(pkt, mtu: sides.inside.mtu, &allocator) }
        let s: SessionIndex
        switch outboundSession(pkt, proto, sport: sport, &allocator) {
        case .session(let i): s = i
        case .refused(let verdict): return verdict
        }
        var delta = RewriteDelta()
        pkt.rewriteAddress(.source, to: sides.outside.address, &delta)
        pkt.rewritePort(proto, .source, from: sport, to: sessions[s].extPort, &delta)
        pkt.finishRewrite(proto, delta)
        let mark = NatHandOffMark.hairpin.rawValue
        guard handOffs.push(HandOffRequest(worker: owner, handOff: HandOff(head: pkt.head, side: .inside, mark: mark))) else {
            return drop(.outputFull)
        }
        return .consumed
    }

    /// The second half, on the destination port's owner: a packet from the outside address to
    /// the outside address, received on the inside, its TTL and checksums already done.
    @inline(never)
    mutating func hairpinDestination<A: HeadAllocator & ~Copyable>(_ head: PacketHead, now: UInt64,
                                                                  _ allocator: inout A) -> NatVerdict {
        // The sending worker checked the headers (and stripped any padding).
        guard let eth = EthernetHeader.parse(UnsafeRawPointer(head.data), length: head.length),
              let pcp = ingressPCP(eth, .inside) else { return drop(.malformed) }
        let ip = head.data + eth.payloadOffset
        let pkt = NatPacket(head, from: .inside, now: now, l2: eth.payloadOffset, ihl: Int(ip.readU8(0) & 0x0F) << 2,
                            total: Int(ip.readBE16(2)), pcp: pcp)
        guard case .mapped(let proto) = L4Kind(pkt, queryType: ICMPType.echoRequest), proto != .icmp else {
            return drop(.malformed)
        }
        let dport = pkt.l4.readBE16(proto.portOffset(.destination))
        guard let match = matchInbound(proto, port: dport, now: now) else { return drop(.toGateway) }
        guard let t = establishInbound(match, proto, l4: pkt.l4, now: now) else { return drop(.tableFull) }
        let target = sessions[t]
        var delta = RewriteDelta()
        pkt.rewriteAddress(.destination, to: target.inAddr, &delta)
        pkt.rewritePort(proto, .destination, from: dport, to: target.inPort, &delta)
        // The TTL was decremented by the first half.
        pkt.ip.adjustChecksum(at: 10, by: delta.address)
        pkt.l4.adjustTransportChecksum(proto, delta)
        counters.hairpinned &+= 1
        return egress(pkt, to: .inside, nextHop: target.inAddr, &allocator)
    }
}
