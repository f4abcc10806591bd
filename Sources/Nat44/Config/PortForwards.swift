/// The static port forwards (`--forward`). Few: scanned only when a session is created or an
/// inbound packet finds no session, never per packet of an established flow. Scanned by index:
/// an unoptimised build's array iterator allocates, and a refused new flow (per-host limits)
/// scans on every packet.
struct PortForwards {
    let all: [NatForward]

    /// The forward of external `port`, for an inbound packet with no session. ICMP is never
    /// forwarded.
    func forward(_ proto: NatProtocol, externalPort port: UInt16) -> NatForward? {
        guard proto != .icmp else { return nil }
        for i in 0..<all.count where all[i].proto == proto && all[i].externalPort == port { return all[i] }
        return nil
    }

    /// The forward whose target is this inside endpoint: its own outbound traffic leaves with the
    /// forwarded port (endpoint-independent mapping). `NatConfig.validate` allows one per
    /// endpoint.
    func forward(targeting key: SessionKey) -> NatForward? {
        guard key.proto != .icmp else { return nil }
        for i in 0..<all.count {
            let f = all[i]
            if f.proto == key.proto && f.internalAddress.value == key.address && f.internalPort == key.port { return f }
        }
        return nil
    }
}
