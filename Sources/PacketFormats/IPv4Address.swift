/// An IPv4 address in host byte order (`192.168.10.1` is `0xC0A8_0A01`).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32
    public init(_ value: UInt32) { self.value = value }

    /// Dotted quad; nil for anything else (no shorthand forms, no leading `+`).
    public init?(_ text: some StringProtocol) {
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

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }
    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// An interface address with its prefix length: `192.168.10.1/24`.
public struct IPv4Prefix: Hashable, Sendable, CustomStringConvertible {
    /// The interface's own address.
    public var address: IPv4Address
    public var length: Int

    public init(address: IPv4Address, length: Int) {
        precondition(length >= 0 && length <= 32)
        self.address = address
        self.length = length
    }

    public var mask: UInt32 { length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length) }
    public var network: UInt32 { address.value & mask }
    public var broadcast: UInt32 { network | ~mask }

    /// True when `ip` is on this subnet (the network and broadcast addresses included).
    @inlinable @inline(__always) public func contains(_ ip: UInt32) -> Bool { ip & mask == network }

    public var description: String { "\(address)/\(length)" }
}

