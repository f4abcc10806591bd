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
    o.add(fields: [
        ("translated_out", n.translatedOutbound), ("translated_in", n.translatedInbound),
        ("hairpinned", n.hairpinned), ("icmp_errors_translated", n.icmpErrorsTranslated),
        ("icmp_errors_sent", n.icmpErrorsSent), ("icmp_errors_rate_limited", n.icmpErrorsRateLimited),
        ("echo_replies_sent", n.echoRepliesSent), ("mss_clamped", n.mssClamped), ("fragments_translated", n.fragmentsTranslated),
        ("fragments_held", n.fragmentsHeld), ("fragments_handed_off", n.fragmentsHandedOff),
    ])
    var arp = JSONObject()
    arp.add(fields: [
        ("received", n.arpReceived), ("requests_answered", n.arpRequestsAnswered),
        ("requests_sent", n.arpRequestsSent), ("replies_received", n.arpRepliesReceived),
        ("held", n.arpHeld), ("released", n.arpReleased), ("copies_sent", n.arpCopiesSent),
    ])
    o.add("arp", arp)
    var drops = JSONObject()
    for r in NatDropReason.allCases { drops.add(r.description, n.drops[r]) }
    o.add("drops", drops)
    o.add("drops_total", n.drops.total)
    o.add("drops_later", n.dropsLater)
    return o
}
