/// `--ipv6 drop|bridge`: what the gateway does with IPv6 frames, which it does not translate.
public enum NatIPv6Mode: String, Sendable, CaseIterable {
    /// Dropped as `not_ipv4` (the default).
    case drop
    /// Forwarded between the sides unchanged but for the VLAN tag (NDP and router advertisements
    /// with them), so that an IPv6 router on the outside serves the inside hosts directly.
    case bridge
}
