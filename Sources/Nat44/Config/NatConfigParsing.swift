import PacketFormats

/// Parse helpers for the `--vlan-nat` options: each throws a `NatConfigError` naming the option
/// and showing a valid value.
extension NatConfig {
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

    /// `--ipv6 drop|bridge`.
    public static func parseIPv6Mode(_ text: String) throws(NatConfigError) -> NatIPv6Mode {
        guard let m = NatIPv6Mode(rawValue: text) else { throw NatConfigError("--ipv6 \(text): expected drop or bridge") }
        return m
    }

    /// `off`, `auto` or an MSS.
    public static func parseMSSClamp(_ text: String) throws(NatConfigError) -> NatMSSClamp {
        switch text {
        case "off": return .off
        case "auto": return .auto
        default:
            guard let n = Int(text), NatMSSClamp.limits.contains(n) else {
                throw NatConfigError("--mss-clamp \(text): expected off, auto or an MSS from \(NatMSSClamp.limits.lowerBound) to \(NatMSSClamp.limits.upperBound), e.g. 1360")
            }
            return .limit(n)
        }
    }

    /// `--max-sessions-per-host`: a count.
    public static func parseMaxSessionsPerHost(_ text: String) throws(NatConfigError) -> Int {
        guard let n = Int(text), n >= 1, n <= 1 << 22 else {
            throw NatConfigError("--max-sessions-per-host \(text): expected a count from 1 to \(1 << 22)")
        }
        return n
    }

    /// `--new-sessions-per-host`: `RATE/s` (or just `RATE`), new sessions per second.
    public static func parseSessionRate(_ text: String) throws(NatConfigError) -> Int {
        let digits = text.hasSuffix("/s") ? String(text.dropLast(2)) : text
        guard let n = Int(digits), n >= 1, n <= 1_000_000 else {
            throw NatConfigError("--new-sessions-per-host \(text): expected new sessions per second, 1/s to 1000000/s, e.g. 20/s")
        }
        return n
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
