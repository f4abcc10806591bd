/// Every duration the gateway works with, in nanoseconds on the caller's clock (the config has
/// seconds and milliseconds), and the per-tick work bounds.
struct NatTimers {
    /// Session idle timeouts.
    let udp: UInt64
    let tcpEstablished: UInt64
    let tcpTransitory: UInt64
    let icmp: UInt64
    /// First ARP retry (doubling per retry), and requests sent before giving up.
    let arpRetry: UInt64
    let arpMaxRequests: Int
    /// A neighbour is trusted this long after its last confirmation (then re-probed), and removed
    /// after this long unused.
    let neighbourReachable: UInt64
    let neighbourIdle: UInt64
    /// A fragment entry lives this long after its first fragment; a later fragment waiting for
    /// its first is held this long.
    let fragmentLifetime: UInt64
    let fragmentHold: UInt64
    /// Session slots examined per `tick`.
    let expiryBudget: Int

    init(_ config: NatConfig) {
        let s: UInt64 = 1_000_000_000
        udp = config.timeouts.udp * s
        tcpEstablished = config.timeouts.tcpEstablished * s
        tcpTransitory = config.timeouts.tcpTransitory * s
        icmp = config.timeouts.icmp * s
        arpRetry = config.arpRetryMs * 1_000_000
        arpMaxRequests = config.arpMaxRequests
        neighbourReachable = config.neighbourReachableSeconds * s
        neighbourIdle = config.neighbourGCSeconds * s
        fragmentLifetime = config.fragmentTimeoutSeconds * s
        fragmentHold = s
        expiryBudget = config.expiryBudget
    }

    /// The idle timeout of a session: TCP's depends on its state (RFC 5382 REQ-5).
    @inline(__always)
    func idle(_ proto: NatProtocol, _ state: NatTCPState) -> UInt64 {
        switch proto {
        case .tcp: return state == .established ? tcpEstablished : tcpTransitory
        case .udp: return udp
        case .icmp: return icmp
        }
    }
}
