/// An IPv4 address in host byte order (`192.168.10.1` is `0xC0A8_0A01`).
struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    var value: UInt32
    init(_ value: UInt32) { self.value = value }

    /// Dotted quad; nil for anything else (no shorthand forms, no leading `+`).
    init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let b = UInt8(p) else { return nil }
            v = v << 8 | UInt32(b)
        }
        value = v
    }

    var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }
    static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// An interface address with its prefix length: `192.168.10.1/24`.
struct IPv4Prefix: Hashable, Sendable, CustomStringConvertible {
    /// The interface's own address.
    var address: IPv4Address
    var length: Int

    init(address: IPv4Address, length: Int) {
        precondition(length >= 0 && length <= 32)
        self.address = address
        self.length = length
    }

    var mask: UInt32 { length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length) }
    var network: UInt32 { address.value & mask }
    var broadcast: UInt32 { network | ~mask }

    /// True when `ip` is on this subnet (the network and broadcast addresses included).
    @inline(__always) func contains(_ ip: UInt32) -> Bool { ip & mask == network }

    var description: String { "\(address)/\(length)" }
}

/// A transport protocol a port forward applies to.
enum NatProtocol: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case tcp = 6
    case udp = 17
    case icmp = 1
    var description: String { self == .tcp ? "tcp" : self == .udp ? "udp" : "icmp" }
}

/// A static port forward: `--forward PROTO:PORT=IP:PORT`. Traffic from outside to the outside
/// address's `externalPort` goes to `internalAddress:internalPort`; the session it creates
/// carries the return path, and the inside host's own outbound traffic from that port leaves
/// with `externalPort` (endpoint-independent mapping).
struct NatForward: Hashable, Sendable, CustomStringConvertible {
    var proto: NatProtocol
    var externalPort: UInt16
    var internalAddress: IPv4Address
    var internalPort: UInt16
    var description: String { "\(proto):\(externalPort)=\(internalAddress):\(internalPort)" }
}

/// Idle timeouts in seconds. Defaults are VPP's NAT44-ED values, which meet RFC 4787 REQ-5
/// (UDP ≥ 120 s, 300 s recommended), RFC 5382 REQ-5 (TCP established ≥ 7440 s, transitory
/// ≥ 240 s) and RFC 5508 REQ-2 (ICMP query ≥ 60 s).
struct NatTimeouts: Hashable, Sendable {
    var udp: UInt64 = 300
    var tcpEstablished: UInt64 = 7440
    var tcpTransitory: UInt64 = 240
    var icmp: UInt64 = 60
    init() {}
}

/// Everything the NAT gateway needs: the `--vlan-nat` options plus what the caller learns from
/// the interfaces (MAC addresses and MTUs).
struct NatConfig: Sendable {
    /// `--inside ADDR/PREFIX`: the gateway's address on IN and the inside subnet.
    var inside: IPv4Prefix
    /// `--outside ADDR/PREFIX`: the masquerade address on OUT and the outside subnet.
    var outside: IPv4Prefix
    /// `--inside-vlan`/`--outside-vlan`: the tag frames carry on each side; nil = untagged.
    var insideVLAN: UInt16?
    var outsideVLAN: UInt16?
    /// `--gateway`: next hop for destinations beyond the outside subnet; nil = on-link only.
    var gateway: IPv4Address?
    /// `--forward` entries.
    var forwards: [NatForward] = []
    /// `--max-sessions`: new flows beyond this are dropped and counted (`tableFull`).
    var maxSessions: Int = 65536
    var timeouts = NatTimeouts()

    /// The interfaces' MAC addresses and MTUs (IPv4 total length limit), supplied by the caller.
    var insideMAC: EthernetAddress
    var outsideMAC: EthernetAddress
    var insideMTU: Int = 1500
    var outsideMTU: Int = 1500

    // Tunables (not command-line options; tests shrink them).
    /// Neighbour (ARP) entries per side.
    var neighbourCapacity: Int = 4096
    /// Neighbours being resolved at once per side; each may hold `arpHoldPerNeighbour` packets.
    var arpPendingCapacity: Int = 64
    /// Packets held per unresolved neighbour (Linux's historical `unres_qlen` is 3).
    var arpHoldPerNeighbour: Int = 3
    /// First ARP retry after this many ms, doubling per retry; gives up after `arpMaxRequests`.
    var arpRetryMs: UInt64 = 1000
    var arpMaxRequests: Int = 3
    /// A resolved entry is trusted this long after its last confirmation; after that it is
    /// still used but re-probed; an entry nobody used for `neighbourGCSeconds` is removed.
    var neighbourReachableSeconds: UInt64 = 60
    var neighbourGCSeconds: UInt64 = 600
    /// Fragment tracking entries, their lifetime, and out-of-order fragments held at once.
    var fragmentCapacity: Int = 1024
    var fragmentTimeoutSeconds: UInt64 = 30
    var fragmentHoldCapacity: Int = 64
    /// Frames the output ring holds (generated and released frames between drains).
    var outputCapacity: Int = 1024
    /// Session slots examined per `tick` for expiry.
    var expiryBudget: Int = 256
    /// ICMP errors the gateway may send: a token bucket of this burst, refilled per second.
    var icmpErrorBurst: Int = 100
    var icmpErrorsPerSecond: Int = 1000

    init(inside: IPv4Prefix, outside: IPv4Prefix, insideMAC: EthernetAddress, outsideMAC: EthernetAddress) {
        self.inside = inside
        self.outside = outside
        self.insideMAC = insideMAC
        self.outsideMAC = outsideMAC
    }

    /// A complete working example, printed with usage errors about missing options.
    static let example =
        "example: forwarder eth0 eth1 --vlan-nat --inside 192.168.10.1/24 --outside 203.0.113.2/24 "
        + "--inside-vlan 10 --outside-vlan 20 --gateway 203.0.113.1 --forward tcp:8080=192.168.10.2:80"

    /// Checks the combination of options; parse helpers have already checked each value.
    func validate() throws(UsageError) {
        for (name, p) in [("--inside", inside), ("--outside", outside)] {
            guard p.length >= 1 && p.length <= 30 else {
                throw UsageError("\(name) \(p): the prefix must be /1 to /30 so the subnet has room for hosts")
            }
            guard p.address.value != p.network && p.address.value != p.broadcast else {
                throw UsageError("\(name) \(p): that is the subnet's network or broadcast address, not a host address")
            }
        }
        let shorter = min(inside.length, outside.length)
        let m: UInt32 = ~UInt32(0) << UInt32(32 - shorter)
        guard inside.address.value & m != outside.address.value & m else {
            throw UsageError("--inside \(inside) and --outside \(outside) overlap; the two sides need separate subnets")
        }
        if let g = gateway {
            guard outside.contains(g.value) && g != outside.address else {
                throw UsageError("--gateway \(g) must be another host on the outside subnet \(outside)")
            }
        }
        guard maxSessions >= 1 && maxSessions <= 1 << 22 else {
            throw UsageError("--max-sessions \(maxSessions): must be 1 to \(1 << 22)")
        }
        guard insideMTU >= 576 && outsideMTU >= 576 else {
            throw UsageError("interface MTU below 576 is not supported")
        }
        var external = Set<String>()
        var targets = Set<String>()
        for f in forwards {
            guard inside.contains(f.internalAddress.value), f.internalAddress != inside.address,
                  f.internalAddress.value != inside.network, f.internalAddress.value != inside.broadcast else {
                throw UsageError("--forward \(f): \(f.internalAddress) is not a host on the inside subnet \(inside)")
            }
            guard external.insert("\(f.proto):\(f.externalPort)").inserted else {
                throw UsageError("--forward \(f): \(f.proto) port \(f.externalPort) is forwarded twice")
            }
            guard targets.insert("\(f.proto):\(f.internalAddress):\(f.internalPort)").inserted else {
                throw UsageError("--forward \(f): \(f.internalAddress):\(f.internalPort) is the target of two forwards; its outbound traffic could only use one external port")
            }
        }
    }

    // MARK: Parse helpers: each throws a UsageError naming the option and showing a valid value.

    static func parseIPv4(_ text: String, option: String) throws(UsageError) -> IPv4Address {
        guard let a = IPv4Address(text) else {
            throw UsageError("\(option) \(text): not an IPv4 address (expected e.g. 192.168.10.1)")
        }
        return a
    }

    /// `192.168.10.1/24`: the interface's address and its subnet.
    static func parseCIDR(_ text: String, option: String = "--inside") throws(UsageError) -> IPv4Prefix {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4Address(parts[0]) else {
            throw UsageError("\(option) \(text): expected ADDR/PREFIX, e.g. 192.168.10.1/24")
        }
        guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let len = Int(parts[1]), len >= 0, len <= 32 else {
            throw UsageError("\(option) \(text): the prefix length must be 0-32, e.g. 192.168.10.1/24")
        }
        return IPv4Prefix(address: a, length: len)
    }

    /// A VLAN id for `--inside-vlan`/`--outside-vlan`: 1-4094.
    static func parseVID(_ text: String, option: String) throws(UsageError) -> UInt16 {
        guard let v = UInt16(text), v >= 1, v <= 4094 else {
            throw UsageError("\(option) \(text): a VLAN id is 1-4094 (omit the option for untagged)")
        }
        return v
    }

    /// `tcp:8080=192.168.10.2:80`.
    static func parseForward(_ text: String) throws(UsageError) -> NatForward {
        let example = "expected PROTO:PORT=IP:PORT, e.g. tcp:8080=192.168.10.2:80"
        let sides = text.split(separator: "=", omittingEmptySubsequences: false)
        guard sides.count == 2 else { throw UsageError("--forward \(text): \(example)") }
        let left = sides[0].split(separator: ":", omittingEmptySubsequences: false)
        let right = sides[1].split(separator: ":", omittingEmptySubsequences: false)
        guard left.count == 2, right.count == 2 else { throw UsageError("--forward \(text): \(example)") }
        let proto: NatProtocol
        switch left[0].lowercased() {
        case "tcp": proto = .tcp
        case "udp": proto = .udp
        default: throw UsageError("--forward \(text): protocol must be tcp or udp")
        }
        guard let ext = UInt16(left[1]), ext > 0 else {
            throw UsageError("--forward \(text): '\(left[1])' is not a port (1-65535)")
        }
        guard let ip = IPv4Address(right[0]) else {
            throw UsageError("--forward \(text): '\(right[0])' is not an IPv4 address; \(example)")
        }
        guard let port = UInt16(right[1]), port > 0 else {
            throw UsageError("--forward \(text): '\(right[1])' is not a port (1-65535)")
        }
        return NatForward(proto: proto, externalPort: ext, internalAddress: ip, internalPort: port)
    }

    static func parseMaxSessions(_ text: String) throws(UsageError) -> Int {
        guard let n = Int(text), n >= 1, n <= 1 << 22 else {
            throw UsageError("--max-sessions \(text): expected a count from 1 to \(1 << 22)")
        }
        return n
    }

    /// A timeout in seconds: `300`, `300s`, `5m`, `2h`, or a combination such as `2h4m`.
    static func parseTimeout(_ text: String, option: String) throws(UsageError) -> UInt64 {
        var total: UInt64 = 0
        var digits = ""
        var sawUnit = false
        for c in text {
            if c.isASCII && c.isNumber {
                digits.append(c)
                continue
            }
            let unit: UInt64
            switch c {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            default: throw UsageError("\(option) \(text): expected seconds, e.g. 300, 300s, 5m or 2h4m")
            }
            guard let n = UInt64(digits) else {
                throw UsageError("\(option) \(text): expected seconds, e.g. 300, 300s, 5m or 2h4m")
            }
            let (scaled, o1) = n.multipliedReportingOverflow(by: unit)
            let (sum, o2) = total.addingReportingOverflow(scaled)
            guard !o1 && !o2 && sum <= 7 * 24 * 3600 else { throw UsageError("\(option) \(text): must be from 1 s to 7 days") }
            total = sum
            digits = ""
            sawUnit = true
        }
        if !digits.isEmpty {
            guard let n = UInt64(digits), n <= 7 * 24 * 3600 else {
                throw UsageError("\(option) \(text): must be from 1 s to 7 days")
            }
            total = total &+ n
        } else if !sawUnit {
            throw UsageError("\(option) \(text): expected seconds, e.g. 300, 300s, 5m or 2h4m")
        }
        guard total >= 1 && total <= 7 * 24 * 3600 else {
            throw UsageError("\(option) \(text): must be from 1 s to 7 days")
        }
        return total
    }
}
