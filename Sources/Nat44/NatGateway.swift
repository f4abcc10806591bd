import BufferCache
import PacketFormats
import Pipeline

/// What `NatGateway.process` decided.
public enum NatVerdict: Equatable, Sendable {
    /// The head was rewritten in place: send it on this side (may be the side it came from: an
    /// ARP reply or an echo reply reuses the request's head).
    case forward(Side)
    /// Put the head back; the reason is already counted in `NatCounters.drops`.
    case drop(NatDropReason)
    /// The gateway kept the head (held for ARP resolution or as an out-of-order fragment, or
    /// recycled it); it will come out of the output ring or be put back by the gateway.
    case consumed
}

/// A stateful NAT44 gateway (NAPT) between the inside (IN port) and the outside (OUT port), with
/// its own ARP, ICMP and fragment handling: the `--vlan-nat` mode.
///
/// Single-threaded by design: one thread runs both ports through it, so the session table needs
/// no locks and no atomics. With N workers (`share`), each runs a gateway of its own over its
/// share of the external ports; frames reach their owner by `NatSteering` and the pipeline's
/// hand-off (`Workers/`), and the only shared state is the lock-free `NatFragmentDirectory`. It owns fixed-size tables allocated at init; the per-packet path
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
/// - Per-host limits (`--max-sessions-per-host`, `--new-sessions-per-host`): a host over either
///   gets no new session (`hostQuota`; a RST for a SYN, ICMP administratively prohibited
///   otherwise, rate limited); its existing sessions and port preservation are untouched.
/// - MSS clamping (`--mss-clamp`): the MSS option of a translated SYN or SYN-ACK, either way, is
///   lowered to the limit; the TCP checksum takes the change with the translation's.
/// - No route (an inside host, no `--gateway`, a destination beyond the outside subnet): ICMP
///   network unreachable, rate limited (RFC 1812 5.2.7.1).
/// - IPv6 is not translated: dropped as `notIPv4`, or with `--ipv6 bridge` forwarded to the other
///   side with only its VLAN tag changed (`bridgeIPv6`). Other EtherTypes: `notIPv4`.
/// - Expiry: lazy (a session found expired on lookup is reclaimed first) plus `tick`, which
///   examines `expiryBudget` session slots per call from a rotating cursor.
///
/// Where to read on: `Translation/` is the per-packet path (`processIPv4`, then `outbound`,
/// `inbound` or `hairpin`, then `egress`); `ARP/`, `ICMP/` and `Fragments/` the slow paths it
/// branches to; `Timers/` what `tick` does; `Tables/` the fixed-size storage.
struct NatGateway: ~Copyable {
    /// Addressing and interface of each side.
    let sides: SidePair<NatInterface>
    let timers: NatTimers
    let forwards: PortForwards
    /// `--mss-clamp`: the largest MSS a translated SYN or SYN-ACK keeps; 0 = off.
    let mssLimit: UInt16
    /// `--ipv6 bridge`.
    let bridgesIPv6: Bool

    var sessions: NatSessionTable
    var neighbours: NatNeighbourTable
    var fragments: NatFragmentTable
    /// Frames the gateway generated or released, waiting for the caller.
    var output: NatOutputRing
    var icmpLimiter: ICMPRateLimiter
    var counters = NatCounters()
    /// `--nat-log`: where created and removed mappings are recorded (nowhere by default).
    var events = NatEventSink()

    /// This gateway's worker and external port share; `.single` for the one-worker gateway.
    let share: NatWorkerShare
    /// Who owns a frame (several workers).
    let steering: NatSteering
    /// Which worker translated a datagram's first fragment; nil with one worker.
    let directory: NatFragmentDirectory?
    /// Frames for other workers (ARP copies, hairpins, held fragments whose owner is known).
    var handOffs: NatHandOffRing

    /// Builds the gateway and allocates all its tables. The caller has run `config.validate()`.
    /// With several workers every gateway gets the same `directory`.
    init(config: NatConfig, share: NatWorkerShare = .single, directory: NatFragmentDirectory? = nil) {
        precondition(share.count == 1 || directory != nil, "several NAT workers share a fragment directory")
        self.share = share
        self.directory = share.count > 1 ? directory : nil
        steering = NatSteering(share: share, forwards: config.forwards)
        // Room for an ARP copy to every other worker of two bursts of ARP frames.
        handOffs = NatHandOffRing(capacity: share.count > 1 ? 64 * share.count : 1)
        sides = SidePair(
            inside: NatInterface(config.inside, mac: config.insideMAC, vlan: config.insideVLAN,
                                 mtu: config.insideMTU, router: nil),
            outside: NatInterface(config.outside, mac: config.outsideMAC, vlan: config.outsideVLAN,
                                  mtu: config.outsideMTU, router: config.gateway))
        timers = NatTimers(config)
        forwards = PortForwards(all: config.forwards)
        bridgesIPv6 = config.ipv6 == .bridge
        mssLimit = config.mssClamp.limit(insideMTU: config.insideMTU, outsideMTU: config.outsideMTU) ?? 0
        // No more hosts hold sessions than there are sessions, or hosts on the inside subnet.
        let insideHosts = Int(config.inside.broadcast - config.inside.network) - 1
        sessions = NatSessionTable(capacity: config.maxSessions, share: share,
                                   hosts: NatHostTable(capacity: min(config.maxSessions, insideHosts),
                                                       maxSessions: config.maxSessionsPerHost,
                                                       perSecond: config.newSessionsPerHost))
        neighbours = NatNeighbourTable(capacity: config.neighbourCapacity,
                                       pendingCapacity: config.arpPendingCapacity,
                                       holdPerNeighbour: config.arpHoldPerNeighbour)
        fragments = NatFragmentTable(capacity: config.fragmentCapacity, holdCapacity: config.fragmentHoldCapacity)
        output = NatOutputRing(capacity: config.outputCapacity)
        icmpLimiter = ICMPRateLimiter(burst: config.icmpErrorBurst, perSecond: config.icmpErrorsPerSecond)
        for f in config.forwards { sessions.ports.take(f.proto, f.externalPort) }
    }

    // MARK: Entry points

    /// Handles one frame received on `side`. See `NatVerdict` for who owns the head afterwards.
    @inline(__always)
    mutating func process<A: HeadAllocator & ~Copyable>(_ head: PacketHead, from side: Side, now: UInt64,
                                                        allocator: inout A) -> NatVerdict {
        process(head, NatFrameView(head), from: side, now: now, allocator: &allocator)
    }

    /// `process` with the frame's headers already read (`frame`, of `head` as it is).
    @inline(__always)
    mutating func process<A: HeadAllocator & ~Copyable>(_ head: PacketHead, _ frame: NatFrameView, from side: Side,
                                                        now: UInt64, allocator: inout A) -> NatVerdict {
        guard let eth = frame.eth else { return drop(.malformed) }
        guard let pcp = ingressPCP(eth, side) else { return drop(.wrongVlan) }
        if eth.etherType == EtherType.ipv4 {
            return processIPv4(head, side, l2: eth.payloadOffset, pcp: pcp, now, &allocator)
        }
        if eth.etherType == EtherType.arp {
            return processARP(head, side, l2: eth.payloadOffset, now, &allocator)
        }
        if bridgesIPv6 && eth.etherType == EtherType.ipv6 { return bridgeIPv6(head, eth, from: side, pcp: pcp) }
        return drop(.notIPv4)
    }

    /// The PCP and DEI bits of a frame's tag (0 untagged) when its tagging is the side's; nil
    /// when it is not (stacked, or another VLAN).
    @inline(__always)
    func ingressPCP(_ eth: EthernetHeader, _ side: Side) -> UInt16? {
        let want = sides[side].vlan
        switch eth.tagCount {
        case 0:
            return want == 0 ? 0 : nil
        case 1:
            // A priority tag (VID 0) is accepted on an untagged side.
            return eth.outerTCI & 0x0FFF == want ? eth.outerTCI & 0xF000 : nil
        default:
            return nil
        }
    }

    /// Takes the next frame the gateway generated or released, with the side to send it on.
    mutating func popOutput() -> (Side, PacketHead)? { output.pop() }

    /// Gives every head the gateway still holds (output and hand-off rings, ARP queues, held fragments) back to
    /// `allocator`. Call before dropping the gateway; its tables are freed by its deinit.
    mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A) {
        while let (_, h) = output.pop() { allocator.put(h) }
        while let r = handOffs.pop() { allocator.put(r.handOff.head) }
        for s in 0..<neighbours.pendingCapacity {
            if let n = neighbours.resolving(slot: s) { abandonResolution(n, dropping: nil, &allocator) }
        }
        for i in 0..<fragments.capacity {
            if let f = fragments.occupant(ofSlot: i) { expireFragment(f, &allocator) }
        }
    }

    /// Counts a drop; the caller returns the verdict and its caller puts the head back.
    @inline(never)
    mutating func drop(_ reason: NatDropReason) -> NatVerdict {
        counters.drops[reason] &+= 1
        return .drop(reason)
    }

    // MARK: Inspection (tests)

    /// Active sessions (all protocols).
    var activeSessions: Int { sessions.active }

    /// The external port (or ICMP identifier) of the session of an inside endpoint.
    func externalPort(proto: NatProtocol, insideAddress: IPv4Address, insidePort: UInt16) -> UInt16? {
        guard let s = sessions.find(SessionKey(proto: proto, address: insideAddress.value, port: insidePort)) else {
            return nil
        }
        return sessions[s].extPort
    }
}
