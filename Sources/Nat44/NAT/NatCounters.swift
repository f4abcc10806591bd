import PacketFormats
import Pipeline

/// Why the NAT gateway dropped a packet. Every drop is counted in `NatCounters` by the gateway
/// itself; the caller only puts the head back.
public enum NatDropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Inbound packet matching no session and no port forward (a session is never created from outside).
    case noSession
    /// `--max-sessions` reached: the new flow was refused.
    case tableFull
    /// No free external port (or ICMP identifier) of the required range and parity.
    case portsExhausted
    /// IPv4 header checksum wrong, or an ICMP error/query to us with a wrong ICMP checksum.
    case badChecksum
    /// TTL ≤ 1 on a packet to be routed (an ICMP time exceeded was sent when allowed).
    case ttlExceeded
    /// A fragment that could not be translated: a later fragment whose first fragment never came
    /// (held, then timed out, or the hold area was full), or a fragment addressed to the gateway.
    case fragment
    /// Packet for an unresolved neighbour when its hold queue (or the pending table) was full.
    case arpQueueFull
    /// Neighbour never answered ARP: the packets held for it.
    case arpFailed
    /// Frame tagged differently from `--inside-vlan`/`--outside-vlan` (or stacked).
    case wrongVlan
    /// Neither IPv4 nor ARP (IPv6 is not translated).
    case notIPv4
    /// Truncated or inconsistent headers (IHL < 5, total length beyond the frame, cut L4 or VLAN header).
    case malformed
    /// To one of the gateway's addresses and not an ICMP echo request (nor hairpin traffic).
    case toGateway
    /// Destination neither translated nor routable (no --gateway for an off-link destination,
    /// inside-to-inside, outside traffic not for the outside address, broadcast/multicast).
    case noRoute
    /// Source address not acceptable on that side (not on the inside subnet, broadcast, zero).
    case martian
    /// DF set and bigger than the egress MTU (fragmentation needed sent), or not DF and too big
    /// (the gateway does not fragment).
    case tooBig
    /// IP protocol other than TCP/UDP/ICMP, or an ICMP type that is neither echo nor an error.
    case unsupported
    /// ARP not for one of the gateway's addresses, or an ARP reply nobody asked for.
    case arpIgnored
    /// The output ring was full when a frame was generated or released.
    case outputFull
    /// The head lacked the headroom for a VLAN tag push.
    case noHeadroom
    /// The allocator had no head for a generated frame (ARP request, ICMP error).
    case noBuffer

    public var description: String {
        switch self {
        case .noSession: return "no_session"
        case .tableFull: return "table_full"
        case .portsExhausted: return "ports_exhausted"
        case .badChecksum: return "bad_checksum"
        case .ttlExceeded: return "ttl_exceeded"
        case .fragment: return "fragment"
        case .arpQueueFull: return "arp_queue_full"
        case .arpFailed: return "arp_failed"
        case .wrongVlan: return "wrong_vlan"
        case .notIPv4: return "not_ipv4"
        case .malformed: return "malformed"
        case .toGateway: return "to_gateway"
        case .noRoute: return "no_route"
        case .martian: return "martian"
        case .tooBig: return "too_big"
        case .unsupported: return "unsupported"
        case .arpIgnored: return "arp_ignored"
        case .outputFull: return "output_full"
        case .noHeadroom: return "no_headroom"
        case .noBuffer: return "no_buffer"
        }
    }
}

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

/// Sessions of one protocol.
public struct NatProtocolCounters: Sendable, Equatable {
    public var active: UInt64 = 0
    public var created: UInt64 = 0
    public var expired: UInt64 = 0
}

/// Drop counts, one field per `NatDropReason` (fields, not an array: reading the counters for a
/// stats line must not make the next increment copy a buffer).
public struct NatDropCounters: Sendable, Equatable {
    public var noSession: UInt64 = 0, tableFull: UInt64 = 0, portsExhausted: UInt64 = 0, badChecksum: UInt64 = 0
    public var ttlExceeded: UInt64 = 0, fragment: UInt64 = 0, arpQueueFull: UInt64 = 0, arpFailed: UInt64 = 0
    public var wrongVlan: UInt64 = 0, notIPv4: UInt64 = 0, malformed: UInt64 = 0, toGateway: UInt64 = 0
    public var noRoute: UInt64 = 0, martian: UInt64 = 0, tooBig: UInt64 = 0, unsupported: UInt64 = 0
    public var arpIgnored: UInt64 = 0, outputFull: UInt64 = 0, noHeadroom: UInt64 = 0, noBuffer: UInt64 = 0

    public subscript(reason: NatDropReason) -> UInt64 {
        get {
            switch reason {
            case .noSession: return noSession
            case .tableFull: return tableFull
            case .portsExhausted: return portsExhausted
            case .badChecksum: return badChecksum
            case .ttlExceeded: return ttlExceeded
            case .fragment: return fragment
            case .arpQueueFull: return arpQueueFull
            case .arpFailed: return arpFailed
            case .wrongVlan: return wrongVlan
            case .notIPv4: return notIPv4
            case .malformed: return malformed
            case .toGateway: return toGateway
            case .noRoute: return noRoute
            case .martian: return martian
            case .tooBig: return tooBig
            case .unsupported: return unsupported
            case .arpIgnored: return arpIgnored
            case .outputFull: return outputFull
            case .noHeadroom: return noHeadroom
            case .noBuffer: return noBuffer
            }
        }
        set {
            switch reason {
            case .noSession: noSession = newValue
            case .tableFull: tableFull = newValue
            case .portsExhausted: portsExhausted = newValue
            case .badChecksum: badChecksum = newValue
            case .ttlExceeded: ttlExceeded = newValue
            case .fragment: fragment = newValue
            case .arpQueueFull: arpQueueFull = newValue
            case .arpFailed: arpFailed = newValue
            case .wrongVlan: wrongVlan = newValue
            case .notIPv4: notIPv4 = newValue
            case .malformed: malformed = newValue
            case .toGateway: toGateway = newValue
            case .noRoute: noRoute = newValue
            case .martian: martian = newValue
            case .tooBig: tooBig = newValue
            case .unsupported: unsupported = newValue
            case .arpIgnored: arpIgnored = newValue
            case .outputFull: outputFull = newValue
            case .noHeadroom: noHeadroom = newValue
            case .noBuffer: noBuffer = newValue
            }
        }
    }

    public var total: UInt64 { NatDropReason.allCases.reduce(0) { $0 &+ self[$1] } }
}

/// The NAT gateway's counters: plain integers owned by the NAT thread. Copy the struct to read it.
public struct NatCounters: Sendable, Equatable {
    public var tcp = NatProtocolCounters()
    public var udp = NatProtocolCounters()
    public var icmp = NatProtocolCounters()
    /// Packets translated inside→outside and outside→inside (ICMP errors included; later
    /// fragments count in `fragmentsTranslated`, hairpinned packets only in `hairpinned`).
    public var translatedOutbound: UInt64 = 0
    public var translatedInbound: UInt64 = 0
    public var hairpinned: UInt64 = 0
    /// ICMP errors translated (either direction) and generated by the gateway.
    public var icmpErrorsTranslated: UInt64 = 0
    public var icmpErrorsSent: UInt64 = 0
    public var icmpErrorsRateLimited: UInt64 = 0
    public var echoRepliesSent: UInt64 = 0
    /// Non-first fragments translated through the fragment table, and held out of order.
    public var fragmentsTranslated: UInt64 = 0
    public var fragmentsHeld: UInt64 = 0
    /// ARP: frames received, requests for our addresses answered, requests we sent, replies
    /// that answered our requests; packets held while resolving and released after.
    public var arpReceived: UInt64 = 0
    public var arpRequestsAnswered: UInt64 = 0
    public var arpRequestsSent: UInt64 = 0
    public var arpRepliesReceived: UInt64 = 0
    public var arpHeld: UInt64 = 0
    public var arpReleased: UInt64 = 0
    public var drops = NatDropCounters()

    public var sessionsActive: UInt64 { tcp.active + udp.active + icmp.active }

    public subscript(proto: NatProtocol) -> NatProtocolCounters {
        get { proto == .tcp ? tcp : proto == .udp ? udp : icmp }
        set {
            switch proto {
            case .tcp: tcp = newValue
            case .udp: udp = newValue
            case .icmp: icmp = newValue
            }
        }
    }

    /// Name/value pairs in a stable order, for the stats line and the JSON `nat` key.
    public var fields: [(String, UInt64)] {
        var f: [(String, UInt64)] = []
        for p in NatProtocol.allCases {
            let c = self[p]
            f.append(("\(p)_active", c.active))
            f.append(("\(p)_created", c.created))
            f.append(("\(p)_expired", c.expired))
        }
        f += [("translated_out", translatedOutbound), ("translated_in", translatedInbound),
              ("hairpinned", hairpinned), ("icmp_errors_translated", icmpErrorsTranslated),
              ("icmp_errors_sent", icmpErrorsSent), ("icmp_errors_rate_limited", icmpErrorsRateLimited),
              ("echo_replies", echoRepliesSent), ("fragments_translated", fragmentsTranslated),
              ("fragments_held", fragmentsHeld), ("arp_received", arpReceived),
              ("arp_requests_answered", arpRequestsAnswered), ("arp_requests_sent", arpRequestsSent),
              ("arp_replies_received", arpRepliesReceived), ("arp_held", arpHeld),
              ("arp_released", arpReleased)]
        for r in NatDropReason.allCases { f.append(("drop_\(r)", drops[r])) }
        return f
    }
}
