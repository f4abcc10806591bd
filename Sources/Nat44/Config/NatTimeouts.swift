/// Idle timeouts in seconds. Defaults are VPP's NAT44-ED values, which meet RFC 4787 REQ-5
/// (UDP ≥ 120 s, 300 s recommended), RFC 5382 REQ-5 (TCP established ≥ 7440 s, transitory
/// ≥ 240 s) and RFC 5508 REQ-2 (ICMP query ≥ 60 s).
public struct NatTimeouts: Hashable, Sendable {
    public var udp: UInt64 = 300
    public var tcpEstablished: UInt64 = 7440
    public var tcpTransitory: UInt64 = 240
    public var icmp: UInt64 = 60
    public init() {}
}
