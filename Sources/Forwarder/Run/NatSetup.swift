import Nat44
import NetDevice
import PacketFormats

/// Builds the NAT configuration from `--inside` ... `--timeout-icmp` and the interfaces' facts.
func makeNatConfig(_ options: Options, inside: InterfaceFacts, outside: InterfaceFacts) throws(NatConfigError) -> NatConfig {
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
        default: throw NatConfigError("unknown NAT option \(flag)")
        }
    }
    guard let insidePrefix, let outsidePrefix else {
        let missing = [insidePrefix == nil ? "--inside" : nil, outsidePrefix == nil ? "--outside" : nil]
            .compactMap { $0 }.joined(separator: " and ")
        throw NatConfigError("--vlan-nat needs \(missing): the gateway's address on each side; \(NatConfig.example)")
    }
    var config = NatConfig(inside: insidePrefix, outside: outsidePrefix,
                           insideMAC: inside.mac,
                           outsideMAC: outside.mac)
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
