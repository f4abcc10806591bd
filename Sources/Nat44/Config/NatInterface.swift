import PacketFormats
import Pipeline

/// One side of the gateway as the data path uses it: the interface's address and subnet, MAC,
/// VLAN tag and MTU, precomputed from the config once so that per-packet code compares words.
struct NatInterface {
    /// The gateway's own address on this side (on the outside, the masquerade address).
    let address: UInt32
    let mask: UInt32
    let network: UInt32
    let broadcast: UInt32
    let mac: UInt64
    /// The VLAN id frames carry on this side; 0 = untagged.
    let vlan: UInt16
    /// The largest IPv4 packet (total length) this side's interface sends.
    let mtu: Int
    /// Next hop for destinations beyond this side's subnet (`--gateway`, outside only); nil = none.
    let router: UInt32?

    init(_ prefix: IPv4Prefix, mac: EthernetAddress, vlan: UInt16?, mtu: Int, router: IPv4Address?) {
        address = prefix.address.value
        mask = prefix.mask
        network = prefix.network
        broadcast = prefix.broadcast
        self.mac = mac.value
        self.vlan = vlan ?? 0
        self.mtu = mtu
        // 0.0.0.0 routes nowhere.
        if let r = router?.value, r != 0 { self.router = r } else { self.router = nil }
    }

    @inline(__always) func isOnLink(_ ip: UInt32) -> Bool { ip & mask == network }

    /// A host address of this subnet: on it, and neither its network nor its broadcast address.
    @inline(__always) func isHost(_ ip: UInt32) -> Bool { isOnLink(ip) && ip != network && ip != broadcast }

    /// Ethernet header length of the frames sent on this side.
    @inline(__always) var headerLength: Int { vlan != 0 ? 18 : 14 }

    /// Writes the header of a frame leaving on this side after the destination MAC (which the
    /// caller writes: it may not be known yet): our MAC, the side's tag with `pcp` (the PCP and
    /// DEI bits, carried over from the ingress tag), and `etherType`. `headerLength` bytes.
    @inline(__always)
    func writeEthernetHeader(_ p: UnsafeMutableRawPointer, etherType: UInt16, pcp: UInt16 = 0) {
        p.writeMAC(mac, 6)
        if vlan != 0 {
            p.writeBE16(EtherType.vlan, 12)
            p.writeBE16(pcp | vlan, 14)
            p.writeBE16(etherType, 16)
        } else {
            p.writeBE16(etherType, 12)
        }
    }

    /// Readdresses a received frame back to its sender, from us: an answer built in the request's
    /// own head (ARP reply, echo reply), same tag.
    @inline(__always)
    func returnToSender(_ p: UnsafeMutableRawPointer) {
        p.writeMAC(p.readMAC(6), 0)
        p.writeMAC(mac, 6)
    }
}

/// One value per side, indexed by `Side`.
struct SidePair<Value> {
    let inside: Value
    let outside: Value

    @inline(__always) subscript(side: Side) -> Value { side == .inside ? inside : outside }
}
