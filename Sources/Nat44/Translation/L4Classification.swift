/// What the transport header of a packet makes it, for the two translation directions.
enum L4Kind {
    /// TCP, UDP, or the ICMP query type whose identifier carries the mapping in this direction.
    case mapped(NatProtocol)
    case echoRequest
    case icmpError
    case malformed
    /// Another ICMP type (`true`) or another protocol (`false`).
    case other(isICMP: Bool)

    /// Classifies by protocol and, for ICMP, type; `queryType` is the ICMP type whose identifier
    /// is mapped in this direction (echo request outbound, echo reply inbound).
    @inline(__always)
    init(_ pkt: NatPacket, queryType: UInt8) {
        let l4len = pkt.l4Length
        switch pkt.proto {
        case NatProtocol.tcp.rawValue:
            self = l4len >= 20 ? .mapped(.tcp) : .malformed
        case NatProtocol.udp.rawValue:
            self = l4len >= 8 ? .mapped(.udp) : .malformed
        case NatProtocol.icmp.rawValue:
            guard l4len >= 8 else { self = .malformed; return }
            let type = pkt.l4.readU8(0)
            if type == queryType {
                self = .mapped(.icmp)
            } else if type == ICMPType.echoRequest {
                self = .echoRequest
            } else if ICMPType.isError(type) {
                self = .icmpError
            } else {
                self = .other(isICMP: true)
            }
        default:
            self = .other(isICMP: false)
        }
    }
}
