import BufferCache
import PacketFormats
import Pipeline

/// The fields of an IPv4 packet the gateway decides on, parsed once.
struct NatPacket {
    /// Ethernet header length (14 + 4 per tag) as received.
    var l2: Int
    var ihl: Int
    var total: Int
    var src: UInt32
    var dst: UInt32
    var proto: UInt8
    var ttl: UInt8
    /// Flags and fragment offset word.
    var fragField: UInt16
    /// PCP and DEI bits of the ingress tag (0 when untagged): carried to the egress tag.
    var pcp: UInt16

    @inline(__always) var moreFragments: Bool { fragField & 0x2000 != 0 }
    @inline(__always) var dontFragment: Bool { fragField & 0x4000 != 0 }
}

/// A stateful NAT44 gateway (NAPT) between the inside (IN port) and the outside (OUT port), with
/// its own ARP, ICMP and fragment handling: the `--vlan-nat` mode.
///
/// Single-threaded by design: one thread runs both ports through it, so the session table needs
/// no locks and no atomics. It owns fixed-size tables allocated at init; the per-packet path
/// allocates nothing and calls no closures or existentials. The allocator is a generic parameter
/// (specialised into the pipeline) used only for generated frames and for heads the gateway
/// consumes.
///
/// Behaviour (RFC 4787 / 5382 / 5508 numbering):
/// - Mapping is endpoint-independent (UDP REQ-1, TCP REQ-1): one external port per
///   (protocol, inside address, inside port) whatever the destination.
/// - Filtering is endpoint-independent (UDP REQ-8, the recommended transparent choice): while a
///   mapping lives, any outside endpoint may send to its external port. Chosen because it makes
///   the mapping the whole session (one record, inbound lookup by external port, a direct array
///   index) and because address-dependent filtering breaks peer-to-peer and STUN-style traversal
///   for no gain in a gateway that already refuses anything unmapped. Inbound packets also refresh
///   the mapping (REQ-6 allows it); ICMP errors never do (UDP REQ-12, ICMP REQ-6).
/// - Ports: preserved when free, else the next free port of the same range (1–1023 / 1024–65535)
///   and parity (REQ-3, REQ-4); ICMP echo identifiers likewise, over 0–65535.
/// - Hairpinning (UDP REQ-9, TCP REQ-8) for TCP and UDP: an inside host reaching the outside
///   address and a mapped port reaches the inside host behind it, with its source translated to
///   its own mapping. (ICMP errors between two inside hosts through the outside address are not
///   hairpinned: dropped as `toGateway`.)
/// - Sessions are created only by outbound packets or by inbound packets to a `--forward` port.
/// - Fragments: the first fragment is translated with the session and recorded in a bounded timed
///   table keyed by (ingress side, source, destination, protocol, IP ID); later fragments get the
///   same address rewrite. Later fragments arriving before their first are held (bounded hold
///   area, `fragmentHoldCapacity` frames, released when the first fragment arrives, dropped and
///   counted as `fragment` after a second) — RFC 4787 REQ-14 asks a NAT to accept out-of-order
///   fragments. The gateway never fragments: a packet bigger than the egress MTU is dropped
///   (`tooBig`), with an ICMP fragmentation needed (type 3 code 4, next-hop MTU) when DF is set.
///   Fragments addressed to the gateway itself are dropped (no reassembly).
/// - IPv6 and other EtherTypes are not translated: dropped as `notIPv4`.
/// - Expiry: lazy (a session found expired on lookup is reclaimed first) plus `tick`, which
///   examines `expiryBudget` session slots per call from a rotating cursor.
struct NatGateway: ~Copyable {
    let config: NatConfig

    // Addressing, precomputed from the config.
    let insideIP: UInt32
    let outsideIP: UInt32
    let insideMask: UInt32
    let insideNet: UInt32
    let insideBroadcast: UInt32
    let outsideMask: UInt32
    let outsideNet: UInt32
    let outsideBroadcast: UInt32
    /// 0 = no gateway: off-link outside destinations are unreachable.
    let gatewayIP: UInt32
    let insideMAC: UInt64
    let outsideMAC: UInt64
    /// VLAN ids (0 = untagged).
    let insideTag: UInt16
    let outsideTag: UInt16
    let insideMTU: Int
    let outsideMTU: Int
    // Timeouts in ns.
    let timeoutUDP: UInt64
    let timeoutTCPEstablished: UInt64
    let timeoutTCPTransitory: UInt64
    let timeoutICMP: UInt64
    let arpRetryNs: UInt64
    let reachableNs: UInt64
    let neighbourIdleNs: UInt64
    let fragmentTimeoutNs: UInt64
    let fragmentHoldNs: UInt64
    /// Static forwards (few: scanned only when creating a session or on an inbound miss).
    let forwards: [NatForward]

    var sessions: NatSessionTable
    var neighbours: NatNeighbourTable
    var fragments: NatFragmentTable
    var outputRing: NatOutputRing
    var counters = NatCounters()
    var icmpTokens: Int
    var icmpRefilled: UInt64 = 0

    /// Builds the gateway and allocates all its tables. The caller has run `config.validate()`.
    init(config: NatConfig) {
        self.config = config
        insideIP = config.inside.address.value
        outsideIP = config.outside.address.value
        insideMask = config.inside.mask
        insideNet = config.inside.network
        insideBroadcast = config.inside.broadcast
        outsideMask = config.outside.mask
        outsideNet = config.outside.network
        outsideBroadcast = config.outside.broadcast
        gatewayIP = config.gateway?.value ?? 0
        insideMAC = config.insideMAC.value
        outsideMAC = config.outsideMAC.value
        insideTag = config.insideVLAN ?? 0
        outsideTag = config.outsideVLAN ?? 0
        insideMTU = config.insideMTU
        outsideMTU = config.outsideMTU
        let s: UInt64 = 1_000_000_000
        timeoutUDP = config.timeouts.udp * s
        timeoutTCPEstablished = config.timeouts.tcpEstablished * s
        timeoutTCPTransitory = config.timeouts.tcpTransitory * s
        timeoutICMP = config.timeouts.icmp * s
        arpRetryNs = config.arpRetryMs * 1_000_000
        reachableNs = config.neighbourReachableSeconds * s
        neighbourIdleNs = config.neighbourGCSeconds * s
        fragmentTimeoutNs = config.fragmentTimeoutSeconds * s
        fragmentHoldNs = s
        forwards = config.forwards
        sessions = NatSessionTable(capacity: config.maxSessions)
        neighbours = NatNeighbourTable(capacity: config.neighbourCapacity,
                                       pendingCapacity: config.arpPendingCapacity,
                                       holdPerNeighbour: config.arpHoldPerNeighbour)
        fragments = NatFragmentTable(capacity: config.fragmentCapacity, holdCapacity: config.fragmentHoldCapacity)
        outputRing = NatOutputRing(capacity: config.outputCapacity)
        icmpTokens = config.icmpErrorBurst
        for f in config.forwards {
            sessions.reserve(slot: NatSessionTable.slot(f.proto.rawValue), port: f.externalPort)
        }
    }

    // MARK: Entry points

    /// Handles one frame received on `side`. See `NatVerdict` for who owns the head afterwards.
    @inline(__always)
    mutating func process<A: HeadAllocator & ~Copyable>(_ head: PacketHead, from side: Side, now: UInt64,
                                                        allocator: inout A) -> NatVerdict {
        guard let eth = EthernetHeader.parse(UnsafeRawPointer(head.data), length: head.length) else {
            return drop(.malformed)
        }
        let want = side == .inside ? insideTag : outsideTag
        var pcp: UInt16 = 0
        switch eth.tagCount {
        case 0:
            if want != 0 { return drop(.wrongVlan) }
        case 1:
            // A priority tag (VID 0) is accepted on an untagged side.
            if eth.outerTCI & 0x0FFF != want { return drop(.wrongVlan) }
            pcp = eth.outerTCI & 0xF000
        default:
            return drop(.wrongVlan)
        }
        if eth.etherType == EtherType.ipv4 {
            return processIPv4(head, side, l2: eth.payloadOffset, pcp: pcp, now, &allocator)
        }
        if eth.etherType == EtherType.arp {
            return processARP(head, side, l2: eth.payloadOffset, now, &allocator)
        }
        return drop(.notIPv4)
    }

    /// Frames waiting in the output ring.
    var outputCount: Int { outputRing.count }

    /// Takes the next frame the gateway generated or released, with the side to send it on.
    mutating func popOutput() -> (Side, PacketHead)? { outputRing.pop() }

    /// Hands every queued output frame to `body` (called once per frame, in order).
    mutating func drainOutput(_ body: (Side, PacketHead) -> Void) {
        while let (side, head) = outputRing.pop() { body(side, head) }
    }

    /// Active sessions (all protocols).
    var activeSessions: Int { sessions.active }

    /// The external port (or ICMP identifier) of the live session of an inside endpoint.
    func externalPort(proto: NatProtocol, insideAddress: IPv4Address, insidePort: UInt16) -> UInt16? {
        let i = sessions.lookupOut(slot: NatSessionTable.slot(proto.rawValue), addr: insideAddress.value, port: insidePort)
        return i >= 0 ? sessions.sessions[Int(i)].extPort : nil
    }

    /// The MAC learned for `ip` on `side`, if resolved.
    func neighbour(_ side: Side, _ ip: IPv4Address) -> EthernetAddress? {
        let i = neighbours.lookup(side, ip.value)
        guard i >= 0, neighbours.entries[Int(i)].state == .reachable else { return nil }
        return EthernetAddress(neighbours.entries[Int(i)].mac)
    }

    // MARK: Drops

    @inline(never)
    mutating func drop(_ reason: NatDropReason) -> NatVerdict {
        counters.drops[reason] &+= 1
        return .drop(reason)
    }

    // MARK: IPv4

    @inline(__always)
    private func isMartianSource(_ src: UInt32, _ side: Side) -> Bool {
        if src == 0 || src == 0xFFFF_FFFF || src >> 28 == 0xE || src >> 24 == 127 { return true }
        if src == insideIP || src == outsideIP { return true }
        if side == .inside {
            return src & insideMask != insideNet || src == insideBroadcast || src == insideNet
        }
        return src == outsideBroadcast
    }

    @inline(__always)
    private mutating func processIPv4<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ side: Side, l2: Int, pcp: UInt16, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let ip = head.data + l2
        let avail = head.length - l2
        guard avail >= 20 else { return drop(.malformed) }
        let vihl = ip.readU8(0)
        let ihl = Int(vihl & 0x0F) << 2
        guard vihl >> 4 == 4, ihl >= 20, ihl <= avail else { return drop(.malformed) }
        let total = Int(ip.readBE16(2))
        guard total >= ihl, total <= avail else { return drop(.malformed) }
        guard InternetChecksum.verify(ip, count: ihl) else { return drop(.badChecksum) }
        // Strip Ethernet padding: the egress side may need a different header length, and the
        // NIC pads short frames again.
        if total < avail { head.length = l2 + total }
        let pkt = NatPacket(l2: l2, ihl: ihl, total: total, src: ip.readBE32(12), dst: ip.readBE32(16),
                            proto: ip.readU8(9), ttl: ip.readU8(8), fragField: ip.readBE16(6), pcp: pcp)
        if isMartianSource(pkt.src, side) { return drop(.martian) }
        if pkt.fragField & 0x1FFF != 0 { return laterFragment(head, side, pkt, now, &allocator) }
        let dst = pkt.dst
        if side == .inside {
            if dst == outsideIP { return hairpin(head, pkt, now, &allocator) }
            if dst == insideIP { return toOwnAddress(head, pkt, side, now, &allocator) }
            if dst & insideMask == insideNet || dst == 0xFFFF_FFFF || dst >> 28 == 0xE
                || dst == outsideBroadcast || dst == outsideNet || dst == 0 {
                return drop(.noRoute)
            }
            let nextHop = dst & outsideMask == outsideNet ? dst : gatewayIP
            if nextHop == 0 { return drop(.noRoute) }
            return outbound(head, pkt, nextHop: nextHop, now, &allocator)
        }
        if dst == outsideIP { return inbound(head, pkt, now, &allocator) }
        if dst == insideIP { return drop(.toGateway) }
        return drop(.noRoute)
    }

    /// The 16-bit word holding TTL and protocol, before and after the decrement.
    @inline(__always)
    private static func ttlDelta(_ ip: UnsafeMutableRawPointer, _ pkt: NatPacket) -> UInt32 {
        let proto = UInt16(pkt.proto)
        ip.writeU8(pkt.ttl &- 1, 8)
        return InternetChecksum.delta(UInt16(pkt.ttl) << 8 | proto, UInt16(pkt.ttl &- 1) << 8 | proto)
    }

    /// What the transport header of a packet makes it, for the two translation directions.
    enum L4Kind {
        /// TCP (slot 0), UDP (slot 1) or the ICMP query type that carries the mapping (slot 2).
        case mapped(slot: Int, icmp: Bool)
        case echoRequest
        case icmpError
        case malformed
        /// Another ICMP type (`true`) or another protocol (`false`).
        case other(isICMP: Bool)
    }

    /// Classifies by protocol and, for ICMP, type; `queryType` is the ICMP type whose identifier
    /// is mapped in this direction (8, echo request, outbound; 0, echo reply, inbound).
    @inline(__always)
    static func classify(_ pkt: NatPacket, l4: UnsafeMutableRawPointer, queryType: UInt8) -> L4Kind {
        let l4len = pkt.total - pkt.ihl
        switch pkt.proto {
        case 6: return l4len >= 20 ? .mapped(slot: 0, icmp: false) : .malformed
        case 17: return l4len >= 8 ? .mapped(slot: 1, icmp: false) : .malformed
        case 1:
            guard l4len >= 8 else { return .malformed }
            let type = l4.readU8(0)
            if type == queryType { return .mapped(slot: 2, icmp: true) }
            if type == 8 { return .echoRequest }
            if isICMPError(type) { return .icmpError }
            return .other(isICMP: true)
        default:
            return .other(isICMP: false)
        }
    }

    /// Inside → outside: translate the source to the outside address and the session's port.
    @inline(__always)
    private mutating func outbound<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, nextHop: UInt32, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let ip = head.data + pkt.l2
        let l4 = ip + pkt.ihl
        let slot: Int
        let portOffset: Int
        switch Self.classify(pkt, l4: l4, queryType: 8) {
        case .mapped(let s, let icmp):
            slot = s; portOffset = icmp ? 4 : 0
        case .icmpError:
            return outboundICMPError(head, pkt, nextHop: nextHop, now, &allocator)
        case .malformed:
            return drop(.malformed)
        case .echoRequest, .other:
            return drop(.unsupported)
        }
        if pkt.ttl <= 1 { return timeExceeded(head, pkt, side: .inside, now, &allocator) }
        if pkt.total > outsideMTU { return tooBig(head, pkt, side: .inside, mtu: outsideMTU, now, &allocator) }
        let sport = l4.readBE16(portOffset)
        var s = sessions.lookupOut(slot: slot, addr: pkt.src, port: sport)
        if s >= 0 && sessions.sessions[Int(s)].expires <= now {
            reclaim(s)
            s = -1
        }
        if s < 0 {
            s = createOutbound(slot: slot, addr: pkt.src, port: sport, l4: l4, now: now)
            if s < 0 { return drop(s == -1 ? .tableFull : .portsExhausted) }
        } else {
            refresh(s, slot: slot, l4: l4, outbound: true, now: now)
        }
        let ext = sessions.sessions[Int(s)].extPort
        let addrDelta = InternetChecksum.delta(pkt.src, outsideIP)
        ip.writeBE32(outsideIP, 12)
        let ipDelta = addrDelta &+ Self.ttlDelta(ip, pkt)
        ip.writeBE16(InternetChecksum.apply(ip.readBE16(10), ipDelta), 10)
        l4.writeBE16(ext, portOffset)
        Self.updateL4Checksum(l4, slot: slot, addrDelta: addrDelta, portDelta: InternetChecksum.delta(sport, ext))
        if pkt.moreFragments {
            recordFirstFragment(head, .inside, pkt, newSrc: outsideIP, newDst: pkt.dst, egress: .outside,
                                nextHop: nextHop, now, &allocator)
        }
        counters.translatedOutbound &+= 1
        return egress(head, l2: pkt.l2, pcp: pkt.pcp, to: .outside, nextHop: nextHop, now, &allocator)
    }

    /// Outside → the outside address: a session's return traffic, a port forward, or for us.
    @inline(__always)
    private mutating func inbound<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let ip = head.data + pkt.l2
        let l4 = ip + pkt.ihl
        let slot: Int
        let portOffset: Int
        switch Self.classify(pkt, l4: l4, queryType: 0) {
        case .mapped(let s, let icmp):
            slot = s; portOffset = icmp ? 4 : 2
        case .echoRequest:
            return echoReply(head, pkt, side: .outside)
        case .icmpError:
            return inboundICMPError(head, pkt, now, &allocator)
        case .malformed:
            return drop(.malformed)
        case .other(let isICMP):
            return drop(isICMP ? .unsupported : .toGateway)
        }
        let dport = l4.readBE16(portOffset)
        var s = sessions.lookupExternal(slot: slot, port: dport)
        if s >= 0 && sessions.sessions[Int(s)].expires <= now {
            reclaim(s)
            s = -1
        }
        var forward = -1
        if s < 0 {
            forward = forwardIndex(slot: slot, port: dport)
            // A forward's session starts with a real segment, never with a stray RST.
            if forward < 0 || (slot == 0 && l4.readU8(13) & 0x04 != 0) { return drop(.noSession) }
        }
        if pkt.ttl <= 1 { return timeExceeded(head, pkt, side: .outside, now, &allocator) }
        if pkt.total > insideMTU { return tooBig(head, pkt, side: .outside, mtu: insideMTU, now, &allocator) }
        if s < 0 {
            s = createForwardSession(forward, slot: slot, l4: l4, now: now)
            if s < 0 { return drop(.tableFull) }
        } else {
            refresh(s, slot: slot, l4: l4, outbound: false, now: now)
        }
        let session = sessions.sessions[Int(s)]
        let addrDelta = InternetChecksum.delta(pkt.dst, session.inAddr)
        ip.writeBE32(session.inAddr, 16)
        let ipDelta = addrDelta &+ Self.ttlDelta(ip, pkt)
        ip.writeBE16(InternetChecksum.apply(ip.readBE16(10), ipDelta), 10)
        l4.writeBE16(session.inPort, portOffset)
        Self.updateL4Checksum(l4, slot: slot, addrDelta: addrDelta,
                              portDelta: InternetChecksum.delta(dport, session.inPort))
        if pkt.moreFragments {
            recordFirstFragment(head, .outside, pkt, newSrc: pkt.src, newDst: session.inAddr, egress: .inside,
                                nextHop: session.inAddr, now, &allocator)
        }
        counters.translatedInbound &+= 1
        return egress(head, l2: pkt.l2, pcp: pkt.pcp, to: .inside, nextHop: session.inAddr, now, &allocator)
    }

    /// Inside → the outside address: hairpinning for TCP/UDP, echo for ICMP.
    @inline(never)
    private mutating func hairpin<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let ip = head.data + pkt.l2
        let l4 = ip + pkt.ihl
        let l4len = pkt.total - pkt.ihl
        let slot: Int
        switch pkt.proto {
        case 6:
            guard l4len >= 20 else { return drop(.malformed) }
            slot = 0
        case 17:
            guard l4len >= 8 else { return drop(.malformed) }
            slot = 1
        case 1:
            return toOwnAddress(head, pkt, .inside, now, &allocator)
        default:
            return drop(.toGateway)
        }
        let sport = l4.readBE16(0)
        let dport = l4.readBE16(2)
        var t = sessions.lookupExternal(slot: slot, port: dport)
        if t >= 0 && sessions.sessions[Int(t)].expires <= now {
            reclaim(t)
            t = -1
        }
        var forward = -1
        if t < 0 {
            forward = forwardIndex(slot: slot, port: dport)
            if forward < 0 { return drop(.toGateway) }
        }
        if pkt.ttl <= 1 { return timeExceeded(head, pkt, side: .inside, now, &allocator) }
        if pkt.total > insideMTU { return tooBig(head, pkt, side: .inside, mtu: insideMTU, now, &allocator) }
        if t < 0 {
            t = createForwardSession(forward, slot: slot, l4: l4, now: now)
            if t < 0 { return drop(.tableFull) }
        } else {
            refresh(t, slot: slot, l4: l4, outbound: false, now: now)
        }
        var s = sessions.lookupOut(slot: slot, addr: pkt.src, port: sport)
        if s >= 0 && sessions.sessions[Int(s)].expires <= now && s != t {
            reclaim(s)
            s = -1
        }
        if s < 0 {
            s = createOutbound(slot: slot, addr: pkt.src, port: sport, l4: l4, now: now)
            if s < 0 { return drop(s == -1 ? .tableFull : .portsExhausted) }
        } else {
            refresh(s, slot: slot, l4: l4, outbound: true, now: now)
        }
        let target = sessions.sessions[Int(t)]
        let ext = sessions.sessions[Int(s)].extPort
        let addrDelta = InternetChecksum.delta(pkt.src, outsideIP) &+ InternetChecksum.delta(pkt.dst, target.inAddr)
        ip.writeBE32(outsideIP, 12)
        ip.writeBE32(target.inAddr, 16)
        let ipDelta = addrDelta &+ Self.ttlDelta(ip, pkt)
        ip.writeBE16(InternetChecksum.apply(ip.readBE16(10), ipDelta), 10)
        l4.writeBE16(ext, 0)
        l4.writeBE16(target.inPort, 2)
        Self.updateL4Checksum(l4, slot: slot, addrDelta: addrDelta,
                              portDelta: InternetChecksum.delta(sport, ext) &+ InternetChecksum.delta(dport, target.inPort))
        if pkt.moreFragments {
            recordFirstFragment(head, .inside, pkt, newSrc: outsideIP, newDst: target.inAddr, egress: .inside,
                                nextHop: target.inAddr, now, &allocator)
        }
        counters.hairpinned &+= 1
        return egress(head, l2: pkt.l2, pcp: pkt.pcp, to: .inside, nextHop: target.inAddr, now, &allocator)
    }

    /// Inside → the inside address (or ICMP to the outside address): echo answered, rest dropped.
    @inline(never)
    private mutating func toOwnAddress<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ pkt: NatPacket, _ side: Side, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let l4len = pkt.total - pkt.ihl
        if pkt.proto == 1 {
            guard l4len >= 8 else { return drop(.malformed) }
            if (head.data + pkt.l2 + pkt.ihl).readU8(0) == 8 { return echoReply(head, pkt, side: side) }
        }
        return drop(.toGateway)
    }

    @inline(__always)
    static func isICMPError(_ type: UInt8) -> Bool { type == 3 || type == 11 || type == 12 }

    /// Applies the address and port change to the TCP/UDP/ICMP checksum of a translated packet.
    /// A UDP checksum of 0 ("none") stays 0; a computed 0 is sent as 0xFFFF (RFC 768).
    @inline(__always)
    static func updateL4Checksum(_ l4: UnsafeMutableRawPointer, slot: Int, addrDelta: UInt32, portDelta: UInt32) {
        switch slot {
        case 0:
            l4.writeBE16(InternetChecksum.apply(l4.readBE16(16), addrDelta &+ portDelta), 16)
        case 1:
            let old = l4.readBE16(6)
            if old != 0 {
                let new = InternetChecksum.apply(old, addrDelta &+ portDelta)
                l4.writeBE16(new == 0 ? 0xFFFF : new, 6)
            }
        default:
            // ICMP: no pseudo-header, only the identifier changed.
            l4.writeBE16(InternetChecksum.apply(l4.readBE16(2), portDelta), 2)
        }
    }

    // MARK: Sessions

    @inline(__always)
    private func timeout(slot: Int, state: NatTCPState) -> UInt64 {
        switch slot {
        case 0: return state == .established ? timeoutTCPEstablished : timeoutTCPTransitory
        case 1: return timeoutUDP
        default: return timeoutICMP
        }
    }

    /// Updates the TCP state with a segment's flags and pushes the session's expiry out.
    @inline(__always)
    private mutating func refresh(_ s: Int32, slot: Int, l4: UnsafeMutableRawPointer, outbound: Bool, now: UInt64) {
        var state = NatTCPState.none
        if slot == 0 {
            let old = NatTCPState(rawValue: sessions.sessions[Int(s)].tcpState) ?? .midstream
            state = Self.nextTCPState(old, flags: l4.readU8(13), outbound: outbound)
            if state != old { sessions.sessions[Int(s)].tcpState = state.rawValue }
        }
        sessions.sessions[Int(s)].expires = now &+ timeout(slot: slot, state: state)
    }

    /// Enough of the TCP state machine to choose between the established and transitory
    /// timeouts (RFC 5382 REQ-5), simultaneous open included (REQ-2).
    static func nextTCPState(_ state: NatTCPState, flags: UInt8, outbound: Bool) -> NatTCPState {
        let fin = flags & 0x01 != 0, syn = flags & 0x02 != 0, rst = flags & 0x04 != 0, ack = flags & 0x10 != 0
        if rst { return .closed }
        if syn && !ack && (state == .closing || state == .closed) {
            return outbound ? .synOut : .synIn
        }
        var s = state
        switch state {
        case .synOut: if !outbound && syn { s = .established }
        case .synIn: if outbound && syn { s = .established }
        case .midstream: if !outbound { s = .established }
        case .none: s = .midstream
        default: break
        }
        if fin && s != .closed { s = .closing }
        return s
    }

    /// Initial TCP state of a session created by a segment with `flags`.
    private static func initialTCPState(flags: UInt8, outbound: Bool) -> NatTCPState {
        let syn = flags & 0x02 != 0, rst = flags & 0x04 != 0, ack = flags & 0x10 != 0
        if rst { return .closed }
        if syn && !ack { return outbound ? .synOut : .synIn }
        // Mid-connection (the gateway restarted, or a forward reached mid-stream): established
        // once the other side answers.
        return outbound ? .midstream : .synIn
    }

    /// Reclaims a session found expired on lookup.
    @inline(never)
    mutating func reclaim(_ s: Int32) {
        let slot = Int(sessions.sessions[Int(s)].slotPlusOne) - 1
        sessions.remove(s)
        counters[Self.protocolOf(slot)].active &-= 1
        counters[Self.protocolOf(slot)].expired &+= 1
    }

    @inline(__always)
    static func protocolOf(_ slot: Int) -> NatProtocol { slot == 0 ? .tcp : slot == 1 ? .udp : .icmp }

    /// Index in `forwards` of the forward for (slot, external port), or -1.
    @inline(__always)
    private func forwardIndex(slot: Int, port: UInt16) -> Int {
        guard slot < 2 else { return -1 }
        for (i, f) in forwards.enumerated() where f.externalPort == port && NatSessionTable.slot(f.proto.rawValue) == slot {
            return i
        }
        return -1
    }

    /// Reclaims expired sessions when the table is full; true when a slot is free.
    @inline(never)
    private mutating func makeRoom(now: UInt64) -> Bool {
        guard sessions.isFull else { return true }
        expireSessions(now: now, budget: 256)
        return !sessions.isFull
    }

    /// A new session for an outbound packet: -1 table full, -2 no port.
    @inline(never)
    private mutating func createOutbound(slot: Int, addr: UInt32, port: UInt16, l4: UnsafeMutableRawPointer,
                                         now: UInt64) -> Int32 {
        guard makeRoom(now: now) else { return -1 }
        var ext = -1
        var isForward = false
        if slot < 2 {
            for f in forwards where NatSessionTable.slot(f.proto.rawValue) == slot
                && f.internalAddress.value == addr && f.internalPort == port {
                // The forward target's own traffic leaves with the forwarded port (EIM).
                if sessions.lookupExternal(slot: slot, port: f.externalPort) < 0 {
                    ext = Int(f.externalPort)
                    isForward = true
                }
            }
        }
        if ext < 0 {
            ext = sessions.allocatePort(slot: slot, preferred: port)
            if ext < 0 { return -2 }
        }
        let state = slot == 0 ? Self.initialTCPState(flags: l4.readU8(13), outbound: true) : .none
        let s = sessions.insert(slot: slot, inAddr: addr, inPort: port, extPort: UInt16(ext), isForward: isForward,
                                tcpState: state, expires: now &+ timeout(slot: slot, state: state))
        counters[Self.protocolOf(slot)].created &+= 1
        counters[Self.protocolOf(slot)].active &+= 1
        return s
    }

    /// The return-path session for an inbound packet to a static forward; -1 when full.
    @inline(never)
    private mutating func createForwardSession(_ forward: Int, slot: Int, l4: UnsafeMutableRawPointer,
                                               now: UInt64) -> Int32 {
        guard makeRoom(now: now) else { return -1 }
        let f = forwards[forward]
        // The target may already have a session of its own (it talked out before the forward's
        // port was first used): it keeps that mapping, and the forward gets one more entry only
        // if the target's mapping is not the forward's port. EIM wants one mapping per endpoint,
        // so reuse the existing one when it is the forward's.
        let existing = sessions.lookupOut(slot: slot, addr: f.internalAddress.value, port: f.internalPort)
        if existing >= 0 {
            if sessions.sessions[Int(existing)].extPort == f.externalPort { return existing }
            reclaim(existing)
        }
        let state = slot == 0 ? Self.initialTCPState(flags: l4.readU8(13), outbound: false) : .none
        let s = sessions.insert(slot: slot, inAddr: f.internalAddress.value, inPort: f.internalPort,
                                extPort: f.externalPort, isForward: true, tcpState: state,
                                expires: now &+ timeout(slot: slot, state: state))
        counters[Self.protocolOf(slot)].created &+= 1
        counters[Self.protocolOf(slot)].active &+= 1
        return s
    }

    /// Reclaims up to `budget` session slots' worth of expired sessions.
    mutating func expireSessions(now: UInt64, budget: Int) {
        let (t, u, i) = sessions.expire(now: now, budget: budget)
        counters.tcp.expired &+= UInt64(t); counters.tcp.active &-= UInt64(t)
        counters.udp.expired &+= UInt64(u); counters.udp.active &-= UInt64(u)
        counters.icmp.expired &+= UInt64(i); counters.icmp.active &-= UInt64(i)
    }

    // MARK: Egress

    /// Writes the egress Ethernet header (own MAC, the side's tag, the next hop's MAC) and sends,
    /// or holds the packet while the next hop is resolved.
    @inline(__always)
    mutating func egress<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, l2: Int, pcp: UInt16, to side: Side, nextHop: UInt32, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let tag = side == .inside ? insideTag : outsideTag
        let newL2 = tag != 0 ? 18 : 14
        if newL2 < l2 {
            head.removeBytes(at: 0, count: l2 - newL2)
        } else if newL2 > l2 {
            guard head.insertGap(at: 0, count: newL2 - l2) != nil else { return drop(.noHeadroom) }
        }
        let p = head.data
        p.writeMAC(side == .inside ? insideMAC : outsideMAC, 6)
        if tag != 0 {
            p.writeBE16(EtherType.vlan, 12)
            p.writeBE16(pcp | tag, 14)
            p.writeBE16(EtherType.ipv4, 16)
        } else {
            p.writeBE16(EtherType.ipv4, 12)
        }
        let n = neighbours.lookup(side, nextHop)
        if n >= 0 && neighbours.entries[Int(n)].state == .reachable {
            p.writeMAC(neighbours.entries[Int(n)].mac, 0)
            if now &- neighbours.entries[Int(n)].used > 1_000_000_000 { touchNeighbour(n, now, &allocator) }
            return .forward(side)
        }
        return resolve(head, side, nextHop, n, now, &allocator)
    }
}
