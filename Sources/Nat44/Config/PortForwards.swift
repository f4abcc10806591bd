/// The static port forwards (`--forward`). Few: scanned only when a session is created or an
/// inbound packet finds no session, never per packet of an established flow.
struct PortForwards {
    let all: [NatForward]

    /// The forward of external `port`, for an inbound packet with no session. ICMP is never
    /// forwarded.
    func forward(_ proto: NatProtocol, externalPort port: UInt16) -> NatForward? {
        guard proto != .icmp else { return nil }
        for f in all where f.proto == proto && f.externalPort == port { return f }
        return nil
    }

    /// The forward whose target is this inside endpoint: its own outbound traffic leaves with the
    /// forwarded port (endpoint-independent mapping). `NatConfig.validate` allows one per
    /// endpoint.
    func forward(targeting key: SessionKey) -> NatForward? {
        guard key.proto != .icmp else { return nil }
        for f in all where f.proto == key.proto && f.internalAddress.value == key.address && f.internalPort == key.port {
            return f
        }
        return nil
    }
}
