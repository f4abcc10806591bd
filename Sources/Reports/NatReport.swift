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
        q.add("flushed", p.flushed)
        o.add(name, q)
    }
    o.add(fields: [("translated_out", n.translatedOutbound), ("translated_in", n.translatedInbound)])
    var bridged = JSONObject()
    bridged.add(fields: [("in_out", n.ipv6BridgedOutbound), ("out_in", n.ipv6BridgedInbound)])
    o.add("ipv6_bridged", bridged)
    o.add(fields: n.table)
    var arp = JSONObject()
    arp.add(fields: n.arpTable)
    o.add("arp", arp)
    var drops = JSONObject()
    for r in NatDropReason.allCases { drops.add(r.description, n.drops[r]) }
    o.add("drops", drops)
    o.add("drops_total", n.drops.total)
    o.add("drops_later", n.dropsLater)
    return o
}
