/// A transport protocol the gateway maps: TCP and UDP by port, ICMP queries by identifier. Also
/// the protocol of a port forward (TCP or UDP).
public enum NatProtocol: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case tcp = 6
    case udp = 17
    case icmp = 1
    public var description: String { self == .tcp ? "tcp" : self == .udp ? "udp" : "icmp" }
}

/// Where the fields the gateway rewrites sit in each protocol's header.
extension NatProtocol {
    /// Position in per-protocol arrays (the port pool, the inbound port index).
    @inline(__always) var index: Int {
        switch self {
        case .tcp: return 0
        case .udp: return 1
        case .icmp: return 2
        }
    }

    /// Offset of the port on the `field` end of the packet; for ICMP the echo identifier, which
    /// stands for both ends.
    @inline(__always) func portOffset(_ field: AddressField) -> Int {
        self == .icmp ? 4 : field == .source ? 0 : 2
    }

    /// Offset of the transport checksum.
    @inline(__always) var checksumOffset: Int {
        switch self {
        case .tcp: return 16
        case .udp: return 6
        case .icmp: return 2
        }
    }
}

/// One of the two addresses of an IPv4 header (and, with it, the port on the same end).
enum AddressField {
    case source
    case destination

    @inline(__always) var offset: Int { self == .source ? 12 : 16 }
    @inline(__always) var other: AddressField { self == .source ? .destination : .source }
}
