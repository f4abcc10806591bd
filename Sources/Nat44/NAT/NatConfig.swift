import PacketFormats
import Pipeline

/// A transport protocol a port forward applies to.
public enum NatProtocol: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case tcp = 6
    case udp = 17
    case icmp = 1
    public var description: String { self == .tcp ? "tcp" : self == .udp ? "udp" : "icmp" }
}

/// A static port forward: `--forward PROTO:PORT=IP:PORT`. Traffic from outside to the outside
/// address's `externalPort` goes to `internalAddress:internalPort`; the session it creates
/// carries the return path, and the inside host's own outbound traffic from that port leaves
/// with `externalPort` (endpoint-independent mapping).
public struct NatForward: Hashable, Sendable, CustomStringConvertible {
    public var proto: NatProtocol
    public var externalPort: UInt16
    public var internalAddress: IPv4Address
    public var internalPort: UInt16
    public var description: String { "\(proto):\(externalPort)=\(internalAddress):\(internalPort)" }
}

/// Idle timeouts in seconds. Defaults are VPP's NAT44-ED values, which meet RFC 4787 REQ-5
/// (UDP ≥ 120 s, 300 s recommended), RFC 5382 REQ-5 (TCP established ≥ 7440 s, transitory
/// ≥ 240 s) and RFC 5508 REQ-2 (ICMP query ≥ 60 s).
public struct NatTimeouts: Hashable, Sendable {
    public var udp: UInt64 = 300
    public var tcpEstablished: UInt64 = 7440
    public var tcpTransitory: UInt64 = 240
    public var icmp: UInt64 = 60
    public init() {}
}

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
    public var maxSessions: Int = 65536
    public var timeouts = NatTimeouts()

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

    // MARK: Parse helpers: each throws a UsageError naming the option and showing a valid value.

    public static func parseIPv4(_ text: String, option: String) throws(NatConfigError) -> IPv4Address {
        guard let a = IPv4Address(text) else {
            throw NatConfigError("\(option) \(text): not an IPv4 address (expected e.g. 192.168.10.1)")
        }
        return a
    }

    /// `192.168.10.1/24`: the interface's address and its subnet.
    public static func parseCIDR(_ text: String, option: String = "--inside") throws(NatConfigError) -> IPv4Prefix {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4Address(parts[0]) else {
            throw NatConfigError("\(option) \(text): expected ADDR/PREFIX, e.g. 192.168.10.1/24")
        }
        guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let len = Int(parts[1]), len >= 0, len <= 32 else {
            throw NatConfigError("\(option) \(text): the prefix length must be 0-32, e.g. 192.168.10.1/24")
        }
        return IPv4Prefix(address: a, length: len)
    }

    /// A VLAN id for `--inside-vlan`/`--outside-vlan`: 1-4094.
    public static func parseVID(_ text: String, option: String) throws(NatConfigError) -> UInt16 {
        guard let v = UInt16(text), v >= 1, v <= 4094 else {
            throw NatConfigError("\(option) \(text): a VLAN id is 1-4094 (omit the option for untagged)")
        }
        return v
    }

    /// `tcp:8080=192.168.10.2:80`.
    public static func parseForward(_ text: String) throws(NatConfigError) -> NatForward {
        let example = "expected PROTO:PORT=IP:PORT, e.g. tcp:8080=192.168.10.2:80"
        let sides = text.split(separator: "=", omittingEmptySubsequences: false)
        guard sides.count == 2 else { throw NatConfigError("--forward \(text): \(example)") }
        let left = sides[0].split(separator: ":", omittingEmptySubsequences: false)
        let right = sides[1].split(separator: ":", omittingEmptySubsequences: false)
        guard left.count == 2, right.count == 2 else { throw NatConfigError("--forward \(text): \(example)") }
        let proto: NatProtocol
        switch left[0].lowercased() {
        case "tcp": proto = .tcp
        case "udp": proto = .udp
        default: throw NatConfigError("--forward \(text): protocol must be tcp or udp")
        }
        guard let ext = UInt16(left[1]), ext > 0 else {
            throw NatConfigError("--forward \(text): '\(left[1])' is not a port (1-65535)")
        }
        guard let ip = IPv4Address(right[0]) else {
            throw NatConfigError("--forward \(text): '\(right[0])' is not an IPv4 address; \(example)")
        }
        guard let port = UInt16(right[1]), port > 0 else {
            throw NatConfigError("--forward \(text): '\(right[1])' is not a port (1-65535)")
        }
        return NatForward(proto: proto, externalPort: ext, internalAddress: ip, internalPort: port)
    }

    public static func parseMaxSessions(_ text: String) throws(NatConfigError) -> Int {
        guard let n = Int(text), n >= 1, n <= 1 << 22 else {
            throw NatConfigError("--max-sessions \(text): expected a count from 1 to \(1 << 22)")
        }
        return n
    }

    /// A timeout in seconds: `300`, `300s`, `5m`, `2h`, or a combination such as `2h4m`.
    public static func parseTimeout(_ text: String, option: String) throws(NatConfigError) -> UInt64 {
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
            default: throw NatConfigError("\(option) \(text): expected seconds, e.g. 300, 300s, 5m or 2h4m")
            }
            guard let n = UInt64(digits) else {
                throw NatConfigError("\(option) \(text): expected seconds, e.g. 300, 300s, 5m or 2h4m")
            }
            let (scaled, o1) = n.multipliedReportingOverflow(by: unit)
            let (sum, o2) = total.addingReportingOverflow(scaled)
            guard !o1 && !o2 && sum <= 7 * 24 * 3600 else { throw NatConfigError("\(option) \(text): must be from 1 s to 7 days") }
            total = sum
            digits = ""
            sawUnit = true
        }
        if !digits.isEmpty {
            guard let n = UInt64(digits), n <= 7 * 24 * 3600 else {
                throw NatConfigError("\(option) \(text): must be from 1 s to 7 days")
            }
            total = total &+ n
        } else if !sawUnit {
            throw NatConfigError("\(option) \(text): expected seconds, e.g. 300, 300s, 5m or 2h4m")
        }
        guard total >= 1 && total <= 7 * 24 * 3600 else {
            throw NatConfigError("\(option) \(text): must be from 1 s to 7 days")
        }
        return total
    }
}
