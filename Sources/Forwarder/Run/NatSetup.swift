import BufferCache
#if canImport(Glibc)
import Glibc
#endif

/// Builds the NAT configuration from `--inside` ... `--timeout-icmp` and the interfaces' facts.
func makeNatConfig(_ options: Options, inside: InterfaceFacts, outside: InterfaceFacts) throws(UsageError) -> NatConfig {
    var insidePrefix: IPv4Prefix?, outsidePrefix: IPv4Prefix?
    var insideVLAN: UInt16?, outsideVLAN: UInt16?
    var gateway: IPv4Address?
    var forwards: [NatForward] = []
    var maxSessions: Int?
    var timeouts = NatTimeouts()
    for (flag, value) in options.natArguments {
        switch flag {
        case "--inside": insidePrefix = try NatConfig.parseCIDR(value, option: flag)
        case "--outside": outsidePrefix = try NatConfig.parseCIDR(value, option: flag)
        case "--inside-vlan": insideVLAN = try NatConfig.parseVID(value, option: flag)
        case "--outside-vlan": outsideVLAN = try NatConfig.parseVID(value, option: flag)
        case "--gateway": gateway = try NatConfig.parseIPv4(value, option: flag)
        case "--forward": forwards.append(try NatConfig.parseForward(value))
        case "--max-sessions": maxSessions = try NatConfig.parseMaxSessions(value)
        case "--timeout-udp": timeouts.udp = try NatConfig.parseTimeout(value, option: flag)
        case "--timeout-tcp": timeouts.tcpEstablished = try NatConfig.parseTimeout(value, option: flag)
        case "--timeout-tcp-transitory": timeouts.tcpTransitory = try NatConfig.parseTimeout(value, option: flag)
        case "--timeout-icmp": timeouts.icmp = try NatConfig.parseTimeout(value, option: flag)
        default: throw UsageError("unknown NAT option \(flag)")
        }
    }
    guard let insidePrefix, let outsidePrefix else {
        let missing = [insidePrefix == nil ? "--inside" : nil, outsidePrefix == nil ? "--outside" : nil]
            .compactMap { $0 }.joined(separator: " and ")
        throw UsageError("--vlan-nat needs \(missing): the gateway's address on each side; \(NatConfig.example)")
    }
    var config = NatConfig(inside: insidePrefix, outside: outsidePrefix,
                           insideMAC: EthernetAddress(bytes: inside.macBytes)!,
                           outsideMAC: EthernetAddress(bytes: outside.macBytes)!)
    config.insideVLAN = insideVLAN
    config.outsideVLAN = outsideVLAN
    config.gateway = gateway
    config.forwards = forwards
    if let maxSessions { config.maxSessions = maxSessions }
    config.timeouts = timeouts
    config.insideMTU = inside.mtu
    config.outsideMTU = outside.mtu
    try config.validate()
    return config
}

/// Warnings for a NAT set-up: the kernel holding IPv4 addresses on IN or OUT would answer ARP
/// and send RSTs of its own next to the forwarder's.
func natWarnings(_ config: NatConfig, inside: InterfaceFacts, outside: InterfaceFacts) -> [String] {
    var warnings: [String] = []
    for f in [inside, outside] {
        for address in kernelIPv4Addresses(on: f.name) {
            warnings.append("\(f.name) also has the kernel address \(address): the kernel will answer ARP and "
                + "send its own RSTs and ICMP errors beside the NAT; remove it: ip addr del \(address) dev \(f.name)")
        }
    }
    return warnings
}

/// "a.b.c.d/len" for every IPv4 address the kernel holds on `name`.
func kernelIPv4Addresses(on name: String) -> [String] {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return [] }
    defer { freeifaddrs(list) }
    var result: [String] = []
    var cursor: UnsafeMutablePointer<ifaddrs>? = first
    while let entry = cursor {
        cursor = entry.pointee.ifa_next
        guard let sa = entry.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET),
              String(cString: entry.pointee.ifa_name) == name else { continue }
        let address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
        var length = 0
        if let m = entry.pointee.ifa_netmask {
            length = m.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr).nonzeroBitCount }
        }
        result.append("\(IPv4Address(address))/\(length)")
    }
    return result
}

/// `--vlan-nat`: the NAT gateway as the pipeline's processor.
struct NatProcessor: FrameProcessor, ~Copyable {
    var gateway: NatGateway

    init(config: NatConfig) { gateway = NatGateway(config: config) }

    @inline(__always)
    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        switch gateway.process(head, from: side, now: now, allocator: &allocator) {
        case .forward(let out): return .forward(out)
        case .drop: return .drop(.nat)
        case .consumed: return .consumed
        }
    }

    mutating func tick<A: HeadAllocator & ~Copyable>(now: UInt64, allocator: inout A) {
        gateway.tick(now: now, allocator: &allocator)
    }

    mutating func popOutput() -> (Side, PacketHead)? { gateway.popOutput() }

    mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A) {
        gateway.releaseAll(allocator: &allocator)
    }

    var natCounters: NatCounters? { gateway.counters }
}

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
