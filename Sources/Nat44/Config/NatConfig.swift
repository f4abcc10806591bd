import PacketFormats

/// Everything the NAT gateway needs: the `--vlan-nat` options plus what the caller learns from
/// the interfaces (MAC addresses and MTUs).
public struct NatConfig: Sendable {
    /// `--inside ADDR/PREFIX`: the gateway's address on IN and the inside subnet.
    public var inside: IPv4Prefix
    /// `--outside ADDR/PREFIX`: the masquerade address on OUT and the outside subnet.
    public var outside: IPv4Prefix
    /// `--inside-vlan`/`--outside-vlan`: the tag frames carry on each side; nil = untagged.
    public var insideVLAN: UInt16?
    public var outsideVLAN: UInt16?
    /// `--gateway`: next hop for destinations beyond the outside subnet; nil = on-link only.
    public var gateway: IPv4Address?
    /// `--forward` entries.
    public var forwards: [NatForward] = []
    /// `--max-sessions`: new flows beyond this are dropped and counted (`tableFull`).
    public var maxSessions: Int = 131072
    public var timeouts = NatTimeouts()
    /// `--max-sessions-per-host`, `--new-sessions-per-host` (per second): what one inside host may
    /// hold and open; nil = no limit (as `--max-sessions` alone).
    public var maxSessionsPerHost: Int?
    public var newSessionsPerHost: Int?
    /// `--ipv6`: drop IPv6 frames or bridge them between the sides.
    public var ipv6 = NatIPv6Mode.drop
    /// `--mss-clamp`: lower the MSS option of TCP SYNs through the gateway.
    public var mssClamp = NatMSSClamp.off

    /// The interfaces' MAC addresses and MTUs (IPv4 total length limit), supplied by the caller.
    public var insideMAC: EthernetAddress
    public var outsideMAC: EthernetAddress
    public var insideMTU: Int = 1500
    public var outsideMTU: Int = 1500

    // Tunables (not command-line options; tests shrink them).
    /// Neighbour (ARP) entries per side.
    public var neighbourCapacity: Int = 4096
    /// Neighbours being resolved at once per side; each may hold `arpHoldPerNeighbour` packets.
    public var arpPendingCapacity: Int = 64
    /// Packets held per unresolved neighbour (Linux's historical `unres_qlen` is 3).
    public var arpHoldPerNeighbour: Int = 3
    /// First ARP retry after this many ms, doubling per retry; gives up after `arpMaxRequests`.
    public var arpRetryMs: UInt64 = 1000
    public var arpMaxRequests: Int = 3
    /// A resolved entry is trusted this long after its last confirmation; after that it is
    /// still used but re-probed; an entry nobody used for `neighbourGCSeconds` is removed.
    public var neighbourReachableSeconds: UInt64 = 60
    public var neighbourGCSeconds: UInt64 = 600
    /// Fragment tracking entries, their lifetime, and out-of-order fragments held at once.
    public var fragmentCapacity: Int = 1024
    public var fragmentTimeoutSeconds: UInt64 = 30
    public var fragmentHoldCapacity: Int = 64
    /// Frames the output ring holds (generated and released frames between drains).
    public var outputCapacity: Int = 1024
    /// Session slots examined per `tick` for expiry.
    public var expiryBudget: Int = 256
    /// ICMP errors the gateway may send: a token bucket of this burst, refilled per second.
    public var icmpErrorBurst: Int = 100
    public var icmpErrorsPerSecond: Int = 1000

    public init(inside: IPv4Prefix, outside: IPv4Prefix, insideMAC: EthernetAddress, outsideMAC: EthernetAddress) {
        self.inside = inside
        self.outside = outside
        self.insideMAC = insideMAC
        self.outsideMAC = outsideMAC
    }

    /// A complete working example, printed with usage errors about missing options.
    public static let example =
        "example: forwarder eth0 eth1 --vlan-nat --inside 192.168.10.1/24 --outside 203.0.113.2/24 "
        + "--inside-vlan 10 --outside-vlan 20 --gateway 203.0.113.1 --forward tcp:8080=192.168.10.2:80"

    /// Checks the combination of options; parse helpers have already checked each value.
    public func validate() throws(NatConfigError) {
        for (name, p) in [("--inside", inside), ("--outside", outside)] {
            guard p.length >= 1 && p.length <= 30 else {
                throw NatConfigError("\(name) \(p): the prefix must be /1 to /30 so the subnet has room for hosts")
            }
            guard p.address.value != p.network && p.address.value != p.broadcast else {
                throw NatConfigError("\(name) \(p): that is the subnet's network or broadcast address, not a host address")
            }
        }
        let shorter = min(inside.length, outside.length)
        let m: UInt32 = ~UInt32(0) << UInt32(32 - shorter)
        guard inside.address.value & m != outside.address.value & m else {
            throw NatConfigError("--inside \(inside) and --outside \(outside) overlap; the two sides need separate subnets")
        }
        if let g = gateway {
            guard outside.contains(g.value) && g != outside.address else {
                throw NatConfigError("--gateway \(g) must be another host on the outside subnet \(outside)")
            }
        }
        guard maxSessions >= 1 && maxSessions <= 1 << 22 else {
            throw NatConfigError("--max-sessions \(maxSessions): must be 1 to \(1 << 22)")
        }
        guard insideMTU >= 576 && outsideMTU >= 576 else {
            throw NatConfigError("interface MTU below 576 is not supported")
        }
        if let n = maxSessionsPerHost, !(1...(1 << 22)).contains(n) {
            throw NatConfigError("--max-sessions-per-host \(n): must be 1 to \(1 << 22)")
        }
        if let n = newSessionsPerHost, !(1...1_000_000).contains(n) {
            throw NatConfigError("--new-sessions-per-host \(n)/s: must be 1/s to 1000000/s")
        }
        if case .limit(let n) = mssClamp, !NatMSSClamp.limits.contains(n) {
            throw NatConfigError("--mss-clamp \(n): must be off, auto or an MSS from \(NatMSSClamp.limits.lowerBound) to \(NatMSSClamp.limits.upperBound)")
        }
        var external = Set<String>()
        var targets = Set<String>()
        for f in forwards {
            guard inside.contains(f.internalAddress.value), f.internalAddress != inside.address,
                  f.internalAddress.value != inside.network, f.internalAddress.value != inside.broadcast else {
                throw NatConfigError("--forward \(f): \(f.internalAddress) is not a host on the inside subnet \(inside)")
            }
            guard external.insert("\(f.proto):\(f.externalPort)").inserted else {
                throw NatConfigError("--forward \(f): \(f.proto) port \(f.externalPort) is forwarded twice")
            }
            guard targets.insert("\(f.proto):\(f.internalAddress):\(f.internalPort)").inserted else {
                throw NatConfigError("--forward \(f): \(f.internalAddress):\(f.internalPort) is the target of two forwards; its outbound traffic could only use one external port")
            }
        }
    }
}
