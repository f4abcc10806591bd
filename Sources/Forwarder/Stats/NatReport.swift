import Telemetry
import Nat44

func natJSON(_ n: NatCounters) -> JSONObject {
    var o = JSONObject()
    o.add("sessions_active", n.sessionsActive)
    for (name, p) in [("tcp", n.tcp), ("udp", n.udp), ("icmp", n.icmp)] {
        var q = JSONObject()
        q.add("active", p.active)
        q.add("created", p.created)
        q.add("expired", p.expired)
        o.add(name, q)
    }
    o.add("translated_out", n.translatedOutbound)
    o.add("translated_in", n.translatedInbound)
    o.add("hairpinned", n.hairpinned)
    o.add("icmp_errors_translated", n.icmpErrorsTranslated)
    o.add("icmp_errors_sent", n.icmpErrorsSent)
    o.add("icmp_errors_rate_limited", n.icmpErrorsRateLimited)
    o.add("echo_replies_sent", n.echoRepliesSent)
    o.add("fragments_translated", n.fragmentsTranslated)
    o.add("fragments_held", n.fragmentsHeld)
    var arp = JSONObject()
    arp.add("received", n.arpReceived)
    arp.add("requests_answered", n.arpRequestsAnswered)
    arp.add("requests_sent", n.arpRequestsSent)
    arp.add("replies_received", n.arpRepliesReceived)
    arp.add("held", n.arpHeld)
    arp.add("released", n.arpReleased)
    o.add("arp", arp)
    var drops = JSONObject()
    for r in NatDropReason.allCases { drops.add(r.description, n.drops[r]) }
    o.add("drops", drops)
    o.add("drops_total", n.drops.total)
    return o
}

func natSummaryLines(_ n: NatCounters) -> [String] {
    let dropText = NatDropReason.allCases.compactMap { r in n.drops[r] == 0 ? nil : "\(r.description) \(n.drops[r])" }
    return [
        "  nat sessions: tcp \(n.tcp.active) active (\(n.tcp.created) created, \(n.tcp.expired) expired), "
            + "udp \(n.udp.active) (\(n.udp.created), \(n.udp.expired)), icmp \(n.icmp.active) (\(n.icmp.created), \(n.icmp.expired))",
        "  nat translated: out \(n.translatedOutbound), in \(n.translatedInbound), hairpinned \(n.hairpinned), "
            + "icmp errors translated \(n.icmpErrorsTranslated), sent \(n.icmpErrorsSent), echo replies \(n.echoRepliesSent)",
        "  nat arp: received \(n.arpReceived), answered \(n.arpRequestsAnswered), requests sent \(n.arpRequestsSent), "
            + "replies \(n.arpRepliesReceived), held \(n.arpHeld), released \(n.arpReleased)",
        "  nat drops: \(n.drops.total)" + (dropText.isEmpty ? "" : " (" + dropText.joined(separator: ", ") + ")"),
    ]
}
