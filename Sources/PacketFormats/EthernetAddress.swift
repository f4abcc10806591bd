/// A 48-bit Ethernet (MAC) address, stored in the low 48 bits of a `UInt64` so that the hot path
/// moves it with two stores instead of six.
public struct EthernetAddress: Hashable, Sendable, CustomStringConvertible {
    public let value: UInt64

    public init(_ value: UInt64) { self.value = value & 0xFFFF_FFFF_FFFF }

    /// From six bytes, e.g. what `SIOCGIFHWADDR` returns; nil for any other count.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 6 else { return nil }
        var v: UInt64 = 0
        for b in bytes { v = v << 8 | UInt64(b) }
        self.value = v
    }

    /// From `aa:bb:cc:dd:ee:ff` (also `-` separated).
    public init?(_ text: String) {
        let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            v = v << 8 | UInt64(b)
        }
        self.value = v
    }

    public static let broadcast = EthernetAddress(0xFFFF_FFFF_FFFF)

    public var isMulticast: Bool { value & 0x0100_0000_0000 != 0 }

    public var description: String {
        let hex = Array("0123456789abcdef")
        var s = ""
        for i in (0..<6).reversed() {
            let b = Int((value >> UInt64(i * 8)) & 0xFF)
            s.append(hex[b >> 4]); s.append(hex[b & 15])
            if i > 0 { s.append(":") }
        }
        return s
    }
}

