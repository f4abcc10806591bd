import BufferCache
import PacketFormats
import Pipeline

/// The gateway's slow paths: ARP, neighbour resolution, ICMP generation and error translation,
/// fragments, and the periodic `tick`. All out of line so the translation path stays small.
extension NatGateway {
    // MARK: ARP

    /// ARP on `side`: requests for the side's own address are answered in place (the request's
    /// head becomes the reply); replies to our requests resolve neighbours and release held
    /// packets; everything else is dropped (`arpIgnored`). Neighbours are learned from requests
    /// addressed to us and from replies; any ARP from a known neighbour refreshes its MAC.
    @inline(never)
    mutating func processARP<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ side: Side, l2: Int, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let p = head.data
        let a = p + l2
        guard head.length - l2 >= 28 else { return drop(.malformed) }
        guard a.readBE16(0) == 1, a.readBE16(2) == EtherType.ipv4, a.readU8(4) == 6, a.readU8(5) == 4 else {
            return drop(.malformed)
        }
        let op = a.readBE16(6)
        guard op == 1 || op == 2 else { return drop(.malformed) }
        counters.arpReceived &+= 1
        let sha = a.readMAC(8)
        let spa = a.readBE32(14)
        let tpa = a.readBE32(24)
        let myIP = side == .inside ? insideIP : outsideIP
        let myMAC = side == .inside ? insideMAC : outsideMAC
        let mask = side == .inside ? insideMask : outsideMask
        let net = side == .inside ? insideNet : outsideNet
        if sha == 0 || EthernetAddress(sha).isMulticast || spa == myIP { return drop(.arpIgnored) }
        var n = neighbours.lookup(side, spa)
        if n >= 0 { learn(n, mac: sha, side: side, now, &allocator) }
        guard tpa == myIP else { return drop(.arpIgnored) }
        if op == 1 {
            if n < 0 && spa != 0 && spa & mask == net && spa != (net | ~mask) && spa != net {
                n = neighbours.insert(side, spa, state: .reachable, now: now)
                if n >= 0 { neighbours.entries[Int(n)].mac = sha }
            }
            // The request becomes the reply: same head, same tag.
            p.writeMAC(p.readMAC(6), 0)
            p.writeMAC(myMAC, 6)
            a.writeBE16(2, 6)
            a.writeMAC(sha, 18)
            a.writeBE32(spa, 24)
            a.writeMAC(myMAC, 8)
            a.writeBE32(myIP, 14)
            counters.arpRequestsAnswered &+= 1
            return .forward(side)
        }
        guard n >= 0 else { return drop(.arpIgnored) }
        counters.arpRepliesReceived &+= 1
        allocator.put(head)
        return .consumed
    }

    /// Records `mac` for neighbour `n` and sends the packets held for it.
    @inline(never)
    mutating func learn<A: HeadAllocator & ~Copyable>(_ n: Int32, mac: UInt64, side: Side, _ now: UInt64,
                                                      _ allocator: inout A) {
        neighbours.entries[Int(n)].mac = mac
        neighbours.entries[Int(n)].state = .reachable
        neighbours.entries[Int(n)].confirmed = now
        neighbours.entries[Int(n)].probes = 0
        let slot = Int(neighbours.entries[Int(n)].pending)
        guard slot >= 0 else { return }
        while let h = neighbours.takeHeld(slot: slot) {
            h.data.writeMAC(mac, 0)
            counters.arpReleased &+= 1
            emit(h, side, &allocator)
        }
        neighbours.detachPending(n)
    }

    /// Queues a generated or released frame; when the ring is full the head goes back.
    @inline(never)
    mutating func emit<A: HeadAllocator & ~Copyable>(_ head: PacketHead, _ side: Side, _ allocator: inout A) {
        if !outputRing.push(head, side) {
            counters.drops[.outputFull] &+= 1
            allocator.put(head)
        }
    }

    /// Next hop not resolved: start resolution or hold behind the one in progress.
    @inline(never)
    mutating func resolve<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ side: Side, _ nextHop: UInt32, _ found: Int32, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        var n = found
        if n < 0 {
            n = neighbours.insert(side, nextHop, state: .incomplete, now: now)
            if n < 0 { return drop(.arpQueueFull) }
            guard neighbours.attachPending(n) else {
                neighbours.remove(n)
                return drop(.arpQueueFull)
            }
            neighbours.entries[Int(n)].probes = 1
            neighbours.entries[Int(n)].nextProbe = now &+ arpRetryNs
            sendARPRequest(side, target: nextHop, &allocator)
        }
        guard neighbours.hold(n, head) else { return drop(.arpQueueFull) }
        counters.arpHeld &+= 1
        return .consumed
    }

    /// Refreshes a neighbour's last use, and re-probes it when its confirmation is old.
    @inline(never)
    mutating func touchNeighbour<A: HeadAllocator & ~Copyable>(_ n: Int32, _ now: UInt64, _ allocator: inout A) {
        neighbours.entries[Int(n)].used = now
        let e = neighbours.entries[Int(n)]
        guard now &- e.confirmed > reachableNs, e.pending < 0, neighbours.attachPending(n) else { return }
        neighbours.entries[Int(n)].probes = 1
        neighbours.entries[Int(n)].nextProbe = now &+ arpRetryNs
        sendARPRequest(Side(rawValue: Int(e.side))!, target: e.ip, &allocator)
    }

    /// Broadcasts a who-has for `target` from the side's own address.
    @inline(never)
    mutating func sendARPRequest<A: HeadAllocator & ~Copyable>(_ side: Side, target: UInt32, _ allocator: inout A) {
        guard let r = allocator.get() else {
            counters.drops[.noBuffer] &+= 1
            return
        }
        let tag = side == .inside ? insideTag : outsideTag
        let myMAC = side == .inside ? insideMAC : outsideMAC
        let l2 = tag != 0 ? 18 : 14
        guard l2 + 28 <= r.tailroomLimit else {
            allocator.put(r)
            return
        }
        r.length = l2 + 28
        let p = r.data
        p.writeMAC(EthernetAddress.broadcast.value, 0)
        p.writeMAC(myMAC, 6)
        if tag != 0 {
            p.writeBE16(EtherType.vlan, 12)
            p.writeBE16(tag, 14)
        }
        p.writeBE16(EtherType.arp, l2 - 2)
        let a = p + l2
        a.writeBE16(1, 0)
        a.writeBE16(EtherType.ipv4, 2)
        a.writeU8(6, 4)
        a.writeU8(4, 5)
        a.writeBE16(1, 6)
        a.writeMAC(myMAC, 8)
        a.writeBE32(side == .inside ? insideIP : outsideIP, 14)
        a.writeMAC(0, 18)
        a.writeBE32(target, 24)
        counters.arpRequestsSent &+= 1
        emit(r, side, &allocator)
    }

    // MARK: ICMP generated by the gateway

    /// Answers an echo request to one of the gateway's addresses in place.
    @inline(never)
    mutating func echoReply(_ head: PacketHead, _ pkt: NatPacket, side: Side) -> NatVerdict {
        if pkt.moreFragments { return drop(.fragment) }
        let p = head.data
        let ip = p + pkt.l2
        let icmp = ip + pkt.ihl
        let len = pkt.total - pkt.ihl
        guard len >= 8 else { return drop(.malformed) }
        guard InternetChecksum.verify(icmp, count: len) else { return drop(.badChecksum) }
        p.writeMAC(p.readMAC(6), 0)
        p.writeMAC(side == .inside ? insideMAC : outsideMAC, 6)
        ip.writeBE32(pkt.dst, 12)
        ip.writeBE32(pkt.src, 16)
        ip.writeU8(64, 8)
        ip.writeBE16(0, 10)
        ip.writeBE16(InternetChecksum.compute(ip, count: pkt.ihl), 10)
        let code = UInt16(icmp.readU8(1))
        icmp.writeU8(0, 0)
        icmp.writeBE16(InternetChecksum.apply(icmp.readBE16(2), InternetChecksum.delta(0x0800 | code, code)), 2)
        counters.echoRepliesSent &+= 1
        return .forward(side)
    }

    /// TTL ran out on a packet to route: time exceeded back to the sender, packet dropped.
    @inline(never)
    mutating func timeExceeded<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, side: Side, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        sendICMPError(about: head, pkt, side: side, type: 11, code: 0, word: 0, now, &allocator)
        return drop(.ttlExceeded)
    }

    /// Too big for the egress MTU: fragmentation needed (with the MTU) when DF is set; dropped
    /// either way (the gateway does not fragment).
    @inline(never)
    mutating func tooBig<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, side: Side, mtu: Int, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        if pkt.dontFragment {
            sendICMPError(about: head, pkt, side: side, type: 3, code: 4, word: UInt32(min(mtu, 0xFFFF)), now, &allocator)
        }
        return drop(.tooBig)
    }

    /// Sends an ICMP error about the packet in `head` (as received) back out of `side` to its
    /// sender's MAC, from the side's own address: IPv4 TOS 0xC0, TTL 64, ID 0, and as much of the
    /// offending packet as fits in 576 bytes (RFC 1812 4.3.2.3). Never about an ICMP error or a
    /// non-first fragment (RFC 1812 4.3.2.7); rate limited by a token bucket.
    @inline(never)
    mutating func sendICMPError<A: HeadAllocator & ~Copyable>(
        about head: PacketHead, _ pkt: NatPacket, side: Side, type: UInt8, code: UInt8, word: UInt32,
        _ now: UInt64, _ allocator: inout A
    ) {
        let ip = head.data + pkt.l2
        if pkt.fragField & 0x1FFF != 0 { return }
        if pkt.proto == 1 {
            guard pkt.total - pkt.ihl >= 1 else { return }
            let t = (ip + pkt.ihl).readU8(0)
            if Self.isICMPError(t) || t == 4 || t == 5 { return }
        }
        guard takeICMPToken(now) else {
            counters.icmpErrorsRateLimited &+= 1
            return
        }
        guard let r = allocator.get() else {
            counters.drops[.noBuffer] &+= 1
            return
        }
        let tag = side == .inside ? insideTag : outsideTag
        let l2 = tag != 0 ? 18 : 14
        let quote = min(pkt.total, 576 - 28)
        guard l2 + 28 + quote <= r.tailroomLimit else {
            allocator.put(r)
            return
        }
        r.length = l2 + 28 + quote
        let q = r.data
        q.writeMAC(head.data.readMAC(6), 0)
        q.writeMAC(side == .inside ? insideMAC : outsideMAC, 6)
        if tag != 0 {
            q.writeBE16(EtherType.vlan, 12)
            q.writeBE16(tag, 14)
        }
        q.writeBE16(EtherType.ipv4, l2 - 2)
        let o = q + l2
        o.writeU8(0x45, 0)
        o.writeU8(0xC0, 1)
        o.writeBE16(UInt16(28 + quote), 2)
        o.writeBE32(0, 4)
        o.writeU8(64, 8)
        o.writeU8(1, 9)
        o.writeBE16(0, 10)
        o.writeBE32(side == .inside ? insideIP : outsideIP, 12)
        o.writeBE32(pkt.src, 16)
        o.writeBE16(InternetChecksum.compute(o, count: 20), 10)
        let icmp = o + 20
        icmp.writeU8(type, 0)
        icmp.writeU8(code, 1)
        icmp.writeBE16(0, 2)
        icmp.writeBE32(word, 4)
        (icmp + 8).copyMemory(from: ip, byteCount: quote)
        icmp.writeBE16(InternetChecksum.compute(icmp, count: 8 + quote), 2)
        counters.icmpErrorsSent &+= 1
        emit(r, side, &allocator)
    }

    /// Token bucket for generated ICMP errors.
    private mutating func takeICMPToken(_ now: UInt64) -> Bool {
        let rate = UInt64(max(1, config.icmpErrorsPerSecond))
        let interval = 1_000_000_000 / rate
        if now > icmpRefilled {
            let add = (now - icmpRefilled) / max(1, interval)
            if add > 0 {
                icmpTokens = Int(min(UInt64(config.icmpErrorBurst), UInt64(icmpTokens) + add))
                icmpRefilled = icmpTokens >= config.icmpErrorBurst ? now : icmpRefilled + add * interval
            }
        }
        guard icmpTokens > 0 else { return false }
        icmpTokens -= 1
        return true
    }

    // MARK: ICMP errors in transit (RFC 5508 REQ-3/4/5)

    /// The quoted packet of an ICMP error: where its header and L4 bytes are.
    private struct Quoted {
        var ip: UnsafeMutableRawPointer
        var l4: UnsafeMutableRawPointer
        var l4len: Int
        var proto: UInt8
        var slot: Int
        var src: UInt32
        var dst: UInt32
    }

    /// Validates an ICMP error (length, full ICMP checksum) and its quoted header; nil with the
    /// drop reason otherwise.
    private func parseQuoted(_ head: PacketHead, _ pkt: NatPacket) -> (Quoted?, NatDropReason) {
        let icmp = head.data + pkt.l2 + pkt.ihl
        let len = pkt.total - pkt.ihl
        if pkt.moreFragments { return (nil, .fragment) }
        guard len >= 8 + 20 + 8 else { return (nil, .malformed) }
        guard InternetChecksum.verify(icmp, count: len) else { return (nil, .badChecksum) }
        let e = icmp + 8
        let v = e.readU8(0)
        let eihl = Int(v & 0x0F) << 2
        guard v >> 4 == 4, eihl >= 20, 8 + eihl + 8 <= len else { return (nil, .malformed) }
        // A quoted later fragment carries no ports: nothing to match.
        guard e.readBE16(6) & 0x1FFF == 0 else { return (nil, .noSession) }
        let proto = e.readU8(9)
        let slot: Int
        switch proto {
        case 6: slot = 0
        case 17: slot = 1
        case 1:
            let t = (e + eihl).readU8(0)
            guard t == 8 || t == 0 else { return (nil, .noSession) }
            slot = 2
        default: return (nil, .noSession)
        }
        return (Quoted(ip: e, l4: e + eihl, l4len: len - 8 - eihl, proto: proto, slot: slot,
                       src: e.readBE32(12), dst: e.readBE32(16)), .malformed)
    }

    /// Rewrites one endpoint (address at `addrOffset` in the quoted IP header, port at
    /// `portOffset` in its L4 header) of the quoted packet and fixes its IP and L4 checksums.
    /// Returns the sum of all word changes, for the outer ICMP checksum.
    private static func rewriteQuoted(_ q: Quoted, addrOffset: Int, oldAddr: UInt32, newAddr: UInt32,
                                      portOffset: Int, oldPort: UInt16, newPort: UInt16) -> UInt32 {
        let ad = InternetChecksum.delta(oldAddr, newAddr)
        let pd = InternetChecksum.delta(oldPort, newPort)
        var icmpDelta = ad &+ pd
        q.ip.writeBE32(newAddr, addrOffset)
        let oldIPSum = q.ip.readBE16(10)
        let newIPSum = InternetChecksum.apply(oldIPSum, ad)
        q.ip.writeBE16(newIPSum, 10)
        icmpDelta &+= InternetChecksum.delta(oldIPSum, newIPSum)
        q.l4.writeBE16(newPort, portOffset)
        switch q.slot {
        case 0:
            if q.l4len >= 18 {
                let old = q.l4.readBE16(16)
                let new = InternetChecksum.apply(old, ad &+ pd)
                q.l4.writeBE16(new, 16)
                icmpDelta &+= InternetChecksum.delta(old, new)
            }
        case 1:
            let old = q.l4.readBE16(6)
            if old != 0 {
                var new = InternetChecksum.apply(old, ad &+ pd)
                if new == 0 { new = 0xFFFF }
                q.l4.writeBE16(new, 6)
                icmpDelta &+= InternetChecksum.delta(old, new)
            }
        default:
            let old = q.l4.readBE16(2)
            let new = InternetChecksum.apply(old, pd)
            q.l4.writeBE16(new, 2)
            icmpDelta &+= InternetChecksum.delta(old, new)
        }
        return icmpDelta
    }

    /// An inside host's ICMP error about a packet it received through the gateway: the quoted
    /// packet's destination is that host; it becomes the outside address and external port.
    @inline(never)
    mutating func outboundICMPError<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, nextHop: UInt32, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let (quoted, reason) = parseQuoted(head, pkt)
        guard let q = quoted else { return drop(reason) }
        let portOffset = q.slot == 2 ? 4 : 2
        let port = q.l4.readBE16(portOffset)
        let s = sessions.lookupOut(slot: q.slot, addr: q.dst, port: port)
        guard s >= 0, sessions.sessions[Int(s)].expires > now else { return drop(.noSession) }
        if pkt.ttl <= 1 { return drop(.ttlExceeded) }
        if pkt.total > outsideMTU { return drop(.tooBig) }
        let ext = sessions.sessions[Int(s)].extPort
        let icmpDelta = Self.rewriteQuoted(q, addrOffset: 16, oldAddr: q.dst, newAddr: outsideIP,
                                           portOffset: portOffset, oldPort: port, newPort: ext)
        let ip = head.data + pkt.l2
        let icmp = ip + pkt.ihl
        icmp.writeBE16(InternetChecksum.apply(icmp.readBE16(2), icmpDelta), 2)
        let ipDelta = InternetChecksum.delta(pkt.src, outsideIP) &+ Self.ttlDeltaSlow(ip, pkt)
        ip.writeBE32(outsideIP, 12)
        ip.writeBE16(InternetChecksum.apply(ip.readBE16(10), ipDelta), 10)
        counters.icmpErrorsTranslated &+= 1
        counters.translatedOutbound &+= 1
        return egress(head, l2: pkt.l2, pcp: pkt.pcp, to: .outside, nextHop: nextHop, now, &allocator)
    }

    /// An outside ICMP error about a packet the gateway sent: the quoted packet's source is the
    /// outside address and an external port; it becomes the inside endpoint.
    @inline(never)
    mutating func inboundICMPError<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let (quoted, reason) = parseQuoted(head, pkt)
        guard let q = quoted else { return drop(reason) }
        guard q.src == outsideIP else { return drop(.noSession) }
        let portOffset = q.slot == 2 ? 4 : 0
        let port = q.l4.readBE16(portOffset)
        let s = sessions.lookupExternal(slot: q.slot, port: port)
        guard s >= 0, sessions.sessions[Int(s)].expires > now else { return drop(.noSession) }
        if pkt.ttl <= 1 { return drop(.ttlExceeded) }
        if pkt.total > insideMTU { return drop(.tooBig) }
        let session = sessions.sessions[Int(s)]
        let icmpDelta = Self.rewriteQuoted(q, addrOffset: 12, oldAddr: q.src, newAddr: session.inAddr,
                                           portOffset: portOffset, oldPort: port, newPort: session.inPort)
        let ip = head.data + pkt.l2
        let icmp = ip + pkt.ihl
        icmp.writeBE16(InternetChecksum.apply(icmp.readBE16(2), icmpDelta), 2)
        let ipDelta = InternetChecksum.delta(pkt.dst, session.inAddr) &+ Self.ttlDeltaSlow(ip, pkt)
        ip.writeBE32(session.inAddr, 16)
        ip.writeBE16(InternetChecksum.apply(ip.readBE16(10), ipDelta), 10)
        counters.icmpErrorsTranslated &+= 1
        counters.translatedInbound &+= 1
        return egress(head, l2: pkt.l2, pcp: pkt.pcp, to: .inside, nextHop: session.inAddr, now, &allocator)
    }

    static func ttlDeltaSlow(_ ip: UnsafeMutableRawPointer, _ pkt: NatPacket) -> UInt32 {
        let proto = UInt16(pkt.proto)
        ip.writeU8(pkt.ttl &- 1, 8)
        return InternetChecksum.delta(UInt16(pkt.ttl) << 8 | proto, UInt16(pkt.ttl &- 1) << 8 | proto)
    }

    // MARK: Fragments

    /// Remembers how the first fragment of a datagram was translated; releases later fragments
    /// that arrived before it.
    @inline(never)
    mutating func recordFirstFragment<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ side: Side, _ pkt: NatPacket, newSrc: UInt32, newDst: UInt32, egress: Side,
        nextHop: UInt32, _ now: UInt64, _ allocator: inout A
    ) {
        // The IP ID is untouched by translation; read it from the (rewritten) header.
        let id = (head.data + pkt.l2).readBE16(4)
        var f = fragments.lookup(side, src: pkt.src, dst: pkt.dst, id: id, proto: pkt.proto)
        if f < 0 {
            f = fragments.insert(side, src: pkt.src, dst: pkt.dst, id: id, proto: pkt.proto,
                                 state: .translated, expires: now &+ fragmentTimeoutNs)
            if f < 0 { return }
        }
        fragments.entries[Int(f)].state = .translated
        fragments.entries[Int(f)].newSrc = newSrc
        fragments.entries[Int(f)].newDst = newDst
        fragments.entries[Int(f)].egress = UInt8(egress.rawValue)
        fragments.entries[Int(f)].nextHop = nextHop
        fragments.entries[Int(f)].expires = now &+ fragmentTimeoutNs
        while let h = fragments.takeHeld(f) {
            guard let eth = EthernetHeader.parse(UnsafeRawPointer(h.data), length: h.length) else {
                allocator.put(h)
                continue
            }
            let ip = h.data + eth.payloadOffset
            let later = NatPacket(l2: eth.payloadOffset, ihl: Int(ip.readU8(0) & 0x0F) << 2, total: Int(ip.readBE16(2)),
                                  src: ip.readBE32(12), dst: ip.readBE32(16), proto: ip.readU8(9), ttl: ip.readU8(8),
                                  fragField: ip.readBE16(6), pcp: eth.tagCount > 0 ? eth.outerTCI & 0xF000 : 0)
            switch translateFragment(h, later, f, now, &allocator) {
            case .forward(let out): emit(h, out, &allocator)
            case .drop: allocator.put(h)
            case .consumed: break
            }
        }
    }

    /// A fragment with a non-zero offset: translated like its first fragment, held until the
    /// first fragment comes, or dropped.
    @inline(never)
    mutating func laterFragment<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ side: Side, _ pkt: NatPacket, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let id = (head.data + pkt.l2).readBE16(4)
        var f = fragments.lookup(side, src: pkt.src, dst: pkt.dst, id: id, proto: pkt.proto)
        if f >= 0 && fragments.entries[Int(f)].expires <= now {
            expireFragment(f, &allocator)
            f = -1
        }
        if f >= 0 && fragments.entries[Int(f)].state == .translated {
            return translateFragment(head, pkt, f, now, &allocator)
        }
        // Out of order: hold it until the first fragment arrives (bounded, timed).
        // Fragments that could never be translated are not held: to the gateway itself (no
        // reassembly), ICMP to the outside address from inside, outside traffic not for us.
        if pkt.dst == insideIP || (side == .inside && pkt.dst == outsideIP && pkt.proto == 1)
            || (side == .outside && pkt.dst != outsideIP) {
            return drop(.fragment)
        }
        if f < 0 {
            f = fragments.insert(side, src: pkt.src, dst: pkt.dst, id: id, proto: pkt.proto,
                                 state: .pending, expires: now &+ fragmentHoldNs)
            if f < 0 { return drop(.fragment) }
        }
        guard fragments.hold(f, head) else {
            if fragments.entries[Int(f)].heldFirst < 0 { fragments.remove(f) }
            return drop(.fragment)
        }
        counters.fragmentsHeld &+= 1
        return .consumed
    }

    /// Applies a recorded translation to a later fragment: addresses and TTL only.
    mutating func translateFragment<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, _ f: Int32, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let e = fragments.entries[Int(f)]
        let out = Side(rawValue: Int(e.egress))!
        // No ICMP about non-first fragments.
        if pkt.ttl <= 1 { return drop(.ttlExceeded) }
        if pkt.total > (out == .inside ? insideMTU : outsideMTU) { return drop(.tooBig) }
        let ip = head.data + pkt.l2
        var delta = Self.ttlDeltaSlow(ip, pkt)
        if e.newSrc != pkt.src {
            delta &+= InternetChecksum.delta(pkt.src, e.newSrc)
            ip.writeBE32(e.newSrc, 12)
        }
        if e.newDst != pkt.dst {
            delta &+= InternetChecksum.delta(pkt.dst, e.newDst)
            ip.writeBE32(e.newDst, 16)
        }
        ip.writeBE16(InternetChecksum.apply(ip.readBE16(10), delta), 10)
        counters.fragmentsTranslated &+= 1
        return egress(head, l2: pkt.l2, pcp: pkt.pcp, to: out, nextHop: e.nextHop, now, &allocator)
    }

    /// Removes a fragment entry, dropping (and counting) fragments still held for it.
    mutating func expireFragment<A: HeadAllocator & ~Copyable>(_ f: Int32, _ allocator: inout A) {
        while let h = fragments.takeHeld(f) {
            counters.drops[.fragment] &+= 1
            allocator.put(h)
        }
        fragments.remove(f)
    }

    // MARK: Timers

    /// Periodic work, bounded per call: ARP retries with backoff and give-up (held packets then
    /// dropped as `arpFailed`), re-probe timeouts, neighbour aging, fragment entry expiry, and
    /// `expiryBudget` session slots examined for expiry. Call it every few milliseconds (or
    /// after each burst) with the same clock as `process`.
    mutating func tick<A: HeadAllocator & ~Copyable>(now: UInt64, allocator: inout A) {
        if neighbours.pendingInUse > 0 {
            for s in 0..<neighbours.pendingCapacity {
                let n = neighbours.pendingOwner[s]
                guard n >= 0 else { continue }
                let e = neighbours.entries[Int(n)]
                guard now >= e.nextProbe else { continue }
                let side = Side(rawValue: Int(e.side))!
                if Int(e.probes) < config.arpMaxRequests {
                    neighbours.entries[Int(n)].probes = e.probes + 1
                    neighbours.entries[Int(n)].nextProbe = now &+ (arpRetryNs << UInt64(e.probes))
                    sendARPRequest(side, target: e.ip, &allocator)
                } else {
                    while let h = neighbours.takeHeld(slot: s) {
                        counters.drops[.arpFailed] &+= 1
                        allocator.put(h)
                    }
                    neighbours.detachPending(n)
                    neighbours.remove(n)
                }
            }
        }
        neighbours.collectIdle(now: now, idle: neighbourIdleNs, budget: 32)
        for h in 0..<fragments.holdCapacity {
            let f = fragments.heldOwner[h]
            if f >= 0 && fragments.entries[Int(f)].expires <= now { expireFragment(f, &allocator) }
        }
        for _ in 0..<min(32, fragments.capacity) {
            let f = fragments.advanceCursor()
            let e = fragments.entries[Int(f)]
            if e.state != .free && e.expires <= now { expireFragment(f, &allocator) }
        }
        expireSessions(now: now, budget: config.expiryBudget)
    }

    /// Gives every head the gateway still holds (output ring, ARP queues, held fragments) back to
    /// `allocator`. Call before dropping the gateway; its tables are freed by its deinit.
    mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A) {
        while let (_, h) = outputRing.pop() { allocator.put(h) }
        for s in 0..<neighbours.pendingCapacity {
            let n = neighbours.pendingOwner[s]
            guard n >= 0 else { continue }
            while let h = neighbours.takeHeld(slot: s) { allocator.put(h) }
            neighbours.detachPending(n)
            neighbours.remove(n)
        }
        for i in 0..<fragments.capacity where fragments.entries[i].state != .free {
            expireFragment(Int32(i), &allocator)
        }
    }
}
