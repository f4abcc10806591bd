import CPcap
import PacketFormats

/// What the forwarder needs to know about an interface before opening it.
public struct InterfaceFacts: Sendable {
    public let name: String
    public let index: Int32
    /// The peer's index for a veth (as the kernel reports it; may belong to another namespace).
    public let link: Int32
    public let mac: EthernetAddress
    public let mtu: Int
    public let up: Bool
    public let running: Bool
    public let driver: String

    /// The facts, or a runtime error naming the interfaces that do exist.
    public static func lookup(_ name: String) throws(NetDeviceError) -> InterfaceFacts {
        var info = cpcap_if_info()
        var errbuf = [CChar](repeating: 0, count: 256)
        guard cpcap_if_info_get(name, &info, &errbuf, errbuf.count) == 0 else {
            let names = availableNames()
            throw NetDeviceError("no such interface '\(name)'"
                + (names.isEmpty ? "" : "; interfaces here: \(names.joined(separator: ", "))"))
        }
        let driver = withUnsafeBytes(of: info.driver) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return InterfaceFacts(name: name, index: info.ifindex, link: info.iflink,
                              mac: EthernetAddress(bytes: [info.mac.0, info.mac.1, info.mac.2, info.mac.3, info.mac.4, info.mac.5])!,
                              mtu: Int(info.mtu), up: info.up != 0, running: info.running != 0, driver: driver)
    }

    public static func availableNames() -> [String] {
        var buffer = [CChar](repeating: 0, count: 8192)
        guard cpcap_list_interfaces(&buffer, buffer.count) > 0 else { return [] }
        return String(cString: buffer).split(separator: " ").map(String.init)
    }

    public static func name(ofIndex index: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        guard cpcap_if_name(index, &buffer, buffer.count) == 0 else { return nil }
        return String(cString: buffer)
    }

    /// The other end of a veth when it is in this namespace (its own link points back at us).
    public func visibleVethPeer() -> InterfaceFacts? {
        guard driver == "veth", link > 0, link != index, let peerName = InterfaceFacts.name(ofIndex: link),
              let peer = try? InterfaceFacts.lookup(peerName), peer.link == index, peer.driver == "veth"
        else { return nil }
        return peer
    }

    /// Offload settings that hand an AF_PACKET forwarder frames it cannot pass on, each with
    /// the command that fixes it.
    public func offloadWarnings() -> [String] {
        var warnings: [String] = []
        if let own = Offloads.read(name) {
            var merged: [String] = []
            if own.gro == 1 { merged.append("gro") }
            if own.lro == 1 { merged.append("lro") }
            if !merged.isEmpty {
                warnings.append("\(name): \(merged.joined(separator: "/").uppercased()) is on: the kernel merges "
                    + "received segments into frames bigger than the MTU, which cannot be forwarded "
                    + "(dropped as 'oversize'); fix: ethtool -K \(name) \(merged.map { "\($0) off" }.joined(separator: " "))")
            }
        }
        if let peer = visibleVethPeer(), let p = Offloads.read(peer.name) {
            if p.txChecksum == 1 {
                warnings.append("\(peer.name) (veth peer of \(name)) has TX checksum offload on: TCP/UDP frames "
                    + "it sends carry partial checksums that stay wrong when forwarded; fix: ethtool -K \(peer.name) tx off")
            }
            var segmenting: [String] = []
            if p.tso == 1 { segmenting.append("tso") }
            if p.gso == 1 { segmenting.append("gso") }
            if !segmenting.isEmpty {
                warnings.append("\(peer.name) (veth peer of \(name)) has \(segmenting.joined(separator: "/").uppercased()) on: "
                    + "it sends frames up to 64 KB that cannot be forwarded; fix: ethtool -K \(peer.name) "
                    + segmenting.map { "\($0) off" }.joined(separator: " "))
            }
        }
        return warnings
    }
}

/// Offload flags (1 on, 0 off, -1 unknown).
struct Offloads {
    public let rxChecksum, txChecksum, tso, gso, gro, lro, rxVlan, txVlan: Int32

    public static func read(_ name: String) -> Offloads? {
        var o = cpcap_offloads()
        var errbuf = [CChar](repeating: 0, count: 256)
        guard cpcap_offloads_get(name, &o, &errbuf, errbuf.count) == 0 else { return nil }
        return Offloads(rxChecksum: o.rx_csum, txChecksum: o.tx_csum, tso: o.tso, gso: o.gso, gro: o.gro,
                        lro: o.lro, rxVlan: o.rx_vlan, txVlan: o.tx_vlan)
    }
}
