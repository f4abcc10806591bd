extension InterfaceFacts {
    /// Offload settings that hand an AF_PACKET forwarder frames it cannot pass on, each with
    /// the command that fixes it: the drops they cause otherwise show up only as counters.
    public func offloadWarnings() -> [String] {
        var warnings: [String] = []
        if let own = Offloads.read(name) {
            let merging = featuresOn(["gro": own.gro, "lro": own.lro])
            if !merging.isEmpty {
                warnings.append("\(name): \(merging.joined(separator: "/").uppercased()) is on: the kernel merges "
                    + "received segments into frames bigger than the MTU, which cannot be forwarded "
                    + "(dropped as 'oversize'); " + fix(name, merging))
            }
        }
        guard let peer = visibleVethPeer(), let p = Offloads.read(peer.name) else { return warnings }
        let who = "\(peer.name) (veth peer of \(name))"
        if p.txChecksum == 1 {
            warnings.append("\(who) has TX checksum offload on: TCP/UDP frames it sends carry partial checksums "
                + "that stay wrong when forwarded; " + fix(peer.name, ["tx"]))
        }
        let segmenting = featuresOn(["tso": p.tso, "gso": p.gso])
        if !segmenting.isEmpty {
            warnings.append("\(who) has \(segmenting.joined(separator: "/").uppercased()) on: it sends frames up to "
                + "64 KB that cannot be forwarded; " + fix(peer.name, segmenting))
        }
        return warnings
    }
}

/// The ethtool names of the features that are on, in the order given.
private func featuresOn(_ features: KeyValuePairs<String, Int32>) -> [String] {
    features.filter { $0.value == 1 }.map(\.key)
}

private func fix(_ device: String, _ features: [String]) -> String {
    "fix: ethtool -K \(device) " + features.map { "\($0) off" }.joined(separator: " ")
}
