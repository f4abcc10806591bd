import PacketFormats

/// The gateway's command-line options (`--inside` ... `--timeout-icmp`), each parsed as it is
/// read, then combined into a configuration and checked, all before any interface is looked at.
/// The interfaces' MACs and MTUs are not known yet: the configuration carries placeholders (zero
/// MACs, 1500-byte MTUs) that the caller replaces.
public struct NatOptions {
    public static let flags: Set<String> = [
        "--inside", "--outside", "--inside-vlan", "--outside-vlan", "--gateway", "--forward",
        "--max-sessions", "--timeout-udp", "--timeout-tcp", "--timeout-tcp-transitory", "--timeout-icmp",
        "--mss-clamp", "--max-sessions-per-host", "--new-sessions-per-host", "--ipv6",
    ]

    /// The first NAT option given (for "only applies with --vlan-nat").
    public private(set) var firstFlag: String?
    private var inside: IPv4Prefix?
    private var outside: IPv4Prefix?
    private var insideVLAN: UInt16?
    private var outsideVLAN: UInt16?
    private var gateway: IPv4Address?
    private var forwards: [NatForward] = []
    private var maxSessions: Int?
    private var timeouts = NatTimeouts()
    private var mssClamp = NatMSSClamp.off
    private var ipv6 = NatIPv6Mode.drop
    private var maxSessionsPerHost: Int?
    private var newSessionsPerHost: Int?

    public init() {}

    public mutating func take(_ flag: String, _ value: String) throws(NatConfigError) {
        if firstFlag == nil { firstFlag = flag }
        switch flag {
        case "--inside": inside = try NatConfig.parseCIDR(value, option: flag)
        case "--outside": outside = try NatConfig.parseCIDR(value, option: flag)
        case "--inside-vlan": insideVLAN = try NatConfig.parseVID(value, option: flag)
        case "--outside-vlan": outsideVLAN = try NatConfig.parseVID(value, option: flag)
        case "--gateway": gateway = try NatConfig.parseIPv4(value, option: flag)
        case "--forward": forwards.append(try NatConfig.parseForward(value))
        case "--max-sessions": maxSessions = try NatConfig.parseMaxSessions(value)
        case "--timeout-udp": timeouts.udp = try NatConfig.parseTimeout(value, option: flag)
        case "--timeout-tcp": timeouts.tcpEstablished = try NatConfig.parseTimeout(value, option: flag)
        case "--timeout-tcp-transitory": timeouts.tcpTransitory = try NatConfig.parseTimeout(value, option: flag)
        case "--timeout-icmp": timeouts.icmp = try NatConfig.parseTimeout(value, option: flag)
        case "--mss-clamp": mssClamp = try NatConfig.parseMSSClamp(value)
        case "--ipv6": ipv6 = try NatConfig.parseIPv6Mode(value)
        case "--max-sessions-per-host": maxSessionsPerHost = try NatConfig.parseMaxSessionsPerHost(value)
        case "--new-sessions-per-host": newSessionsPerHost = try NatConfig.parseSessionRate(value)
        default: preconditionFailure("not a NAT option: \(flag)")
        }
    }

    /// The checked configuration, with placeholder MACs (zero) and MTUs (1500).
    public func config() throws(NatConfigError) -> NatConfig {
        guard let inside, let outside else {
            let missing = [inside == nil ? "--inside" : nil, outside == nil ? "--outside" : nil]
                .compactMap { $0 }.joined(separator: " and ")
            throw NatConfigError("--vlan-nat needs \(missing): the gateway's address on each side; \(NatConfig.example)")
        }
        var c = NatConfig(inside: inside, outside: outside, insideMAC: EthernetAddress(0), outsideMAC: EthernetAddress(0))
        c.insideVLAN = insideVLAN
        c.outsideVLAN = outsideVLAN
        c.gateway = gateway
        c.forwards = forwards
        if let maxSessions { c.maxSessions = maxSessions }
        c.timeouts = timeouts
        c.mssClamp = mssClamp
        c.ipv6 = ipv6
        c.maxSessionsPerHost = maxSessionsPerHost
        c.newSessionsPerHost = newSessionsPerHost
        do { try c.validate() } catch { throw NatConfigError(error.message) }
        return c
    }
}
