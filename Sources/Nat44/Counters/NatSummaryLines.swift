extension NatCounters {
    /// The NAT lines of the text summary: sessions, translations, ARP, drops by reason.
    public var summaryLines: [String] {
        let n = self
        let dropText = NatDropReason.allCases.compactMap { r in n.drops[r] == 0 ? nil : "\(r.description) \(n.drops[r])" }
        var lines = [
            "  nat sessions: tcp \(n.tcp.active) active (\(n.tcp.created) created, \(n.tcp.expired) expired), "
                + "udp \(n.udp.active) (\(n.udp.created), \(n.udp.expired)), icmp \(n.icmp.active) (\(n.icmp.created), \(n.icmp.expired))",
            "  nat translated: out \(n.translatedOutbound), in \(n.translatedInbound), hairpinned \(n.hairpinned), "
                + "icmp errors translated \(n.icmpErrorsTranslated), sent \(n.icmpErrorsSent), echo replies \(n.echoRepliesSent)",
            "  nat arp: received \(n.arpReceived), answered \(n.arpRequestsAnswered), requests sent \(n.arpRequestsSent), "
                + "replies \(n.arpRepliesReceived), held \(n.arpHeld), released \(n.arpReleased)",
            "  nat drops: \(n.drops.total)" + (dropText.isEmpty ? "" : " (" + dropText.joined(separator: ", ") + ")"),
        ]
        if n.ipv6BridgedOutbound != 0 || n.ipv6BridgedInbound != 0 {
            lines.insert("  nat ipv6 bridged: in->out \(n.ipv6BridgedOutbound), out->in \(n.ipv6BridgedInbound)", at: 2)
        }
        // Only several workers hand frames to each other.
        if n.arpCopiesSent != 0 || n.fragmentsHandedOff != 0 {
            lines.insert("  nat workers: arp copies sent \(n.arpCopiesSent), fragments handed off \(n.fragmentsHandedOff)", at: 3)
        }
        return lines
    }
}
