import CLinux

/// The offload flags that decide whether AF_PACKET hands over frames that can be forwarded:
/// GRO/LRO merge segments beyond the MTU, a same-host sender's TSO/GSO sends them, and its TX
/// checksum offload leaves checksums partial. 1 on, 0 off, -1 unknown (the driver does not say).
public struct Offloads: Sendable, Equatable {
    public let rxChecksum, txChecksum, tso, gso, gro, lro, rxVlan, txVlan: Int32

    /// nil when the interface is not there; fields the driver does not answer are -1.
    public static func read(_ name: String) -> Offloads? {
        var o = clinux_offloads()
        guard clinux_if_offloads(name, &o) == 0 else { return nil }
        return Offloads(rxChecksum: o.rx_csum, txChecksum: o.tx_csum, tso: o.tso, gso: o.gso, gro: o.gro,
                        lro: o.lro, rxVlan: o.rx_vlan, txVlan: o.tx_vlan)
    }
}
