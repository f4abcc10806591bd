/// Why the NAT gateway dropped a packet. Every drop is counted in `NatCounters` by the gateway
/// itself; the caller only puts the head back.
public enum NatDropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Inbound packet matching no session and no port forward (a session is never created from outside).
    case noSession
    /// `--max-sessions` reached: the new flow was refused.
    case tableFull
    /// No free external port (or ICMP identifier) of the required range and parity.
    case portsExhausted
    /// The inside host is at its `--max-sessions-per-host` or `--new-sessions-per-host` limit:
    /// the new flow was refused (an RST or ICMP administratively prohibited sent back).
    case hostQuota
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
    /// Neither IPv4 nor ARP (IPv6 is not translated; `--ipv6 bridge` forwards it instead).
    case notIPv4
    /// Truncated or inconsistent headers (IHL < 5, total length beyond the frame, cut L4 or VLAN header).
    case malformed
    /// To one of the gateway's addresses and not an ICMP echo request (nor hairpin traffic).
    case toGateway
    /// Destination neither translated nor routable (no --gateway for an off-link destination:
    /// network unreachable sent to the inside host;
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
        case .hostQuota: return "host_quota"
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
