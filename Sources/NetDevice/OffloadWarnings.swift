extension InterfaceFacts {
    /// Offload settings that hand an AF_PACKET forwarder frames it cannot pass on, each with
    /// the command that fixes it: the drops they cause otherwise show up only as counters.
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
