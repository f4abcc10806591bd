import BufferCache

/// Big-endian field access on raw frame bytes.
///
/// Frames arrive at arbitrary alignment (a VLAN push shifts the start by 4), so every access is
/// an unaligned load or store; network byte order is converted here and nowhere else.
extension UnsafeRawPointer {
    @inline(__always) func readBE16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inline(__always) func readBE32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) func readU8(_ offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }
}

extension UnsafeMutableRawPointer {
    @inline(__always) func readBE16(_ offset: Int) -> UInt16 { UnsafeRawPointer(self).readBE16(offset) }
    @inline(__always) func readBE32(_ offset: Int) -> UInt32 { UnsafeRawPointer(self).readBE32(offset) }
    @inline(__always) func readU8(_ offset: Int) -> UInt8 { UnsafeRawPointer(self).readU8(offset) }
    @inline(__always) func writeBE16(_ value: UInt16, _ offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }
    @inline(__always) func writeBE32(_ value: UInt32, _ offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inline(__always) func writeU8(_ value: UInt8, _ offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }
    /// Stores a 48-bit MAC address (held in the low 48 bits of `mac`, first octet most significant).
    @inline(__always) func writeMAC(_ mac: UInt64, _ offset: Int) {
        writeBE16(UInt16(truncatingIfNeeded: mac >> 32), offset)
        writeBE32(UInt32(truncatingIfNeeded: mac), offset + 2)
    }
    @inline(__always) func readMAC(_ offset: Int) -> UInt64 {
        UInt64(readBE16(offset)) << 32 | UInt64(readBE32(offset + 2))
    }
}

/// A 48-bit Ethernet (MAC) address, stored in the low 48 bits of a `UInt64` so that the hot path
/// moves it with two stores instead of six.
struct EthernetAddress: Hashable, Sendable, CustomStringConvertible {
    let value: UInt64

    init(_ value: UInt64) { self.value = value & 0xFFFF_FFFF_FFFF }

    /// From six bytes, e.g. what `SIOCGIFHWADDR` returns; nil for any other count.
    init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 6 else { return nil }
        var v: UInt64 = 0
        for b in bytes { v = v << 8 | UInt64(b) }
        self.value = v
    }

    /// From `aa:bb:cc:dd:ee:ff` (also `-` separated).
    init?(_ text: String) {
        let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            v = v << 8 | UInt64(b)
        }
        self.value = v
    }

    static let broadcast = EthernetAddress(0xFFFF_FFFF_FFFF)

    var isMulticast: Bool { value & 0x0100_0000_0000 != 0 }

    var description: String {
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

/// EtherType values the forwarder looks at.
enum EtherType {
    static let ipv4: UInt16 = 0x0800
    static let arp: UInt16 = 0x0806
    static let ipv6: UInt16 = 0x86DD
    /// 802.1Q customer tag.
    static let vlan: UInt16 = 0x8100
    /// 802.1ad service tag (the outer tag of a stacked pair).
    static let qinq: UInt16 = 0x88A8
    /// The pre-standard stacking TPID some switches still send.
    static let qinqLegacy: UInt16 = 0x9100

    @inline(__always) static func isVlanTPID(_ t: UInt16) -> Bool {
        t == vlan || t == qinq || t == qinqLegacy
    }
}

/// The Ethernet header of a frame as it sits in the bytes: addresses, up to two VLAN tags, the
/// EtherType and where the payload starts.
///
/// libpcap restores a VLAN tag the kernel had moved into metadata back into the bytes, so the
/// tags are always inline; `HeadMeta.vlanTCI` is not consulted. Parsing is a few loads and no
/// allocation: the VLAN map and the NAT gateway both call it once per frame.
struct EthernetFrame {
    /// Number of VLAN tags found (0, 1 or 2). A third tag is not parsed: `etherType` is then a
    /// VLAN TPID, which every user treats as "not mine".
    var tagCount: Int
    /// TPID and TCI of the outer tag (valid when `tagCount >= 1`).
    var outerTPID: UInt16
    var outerTCI: UInt16
    /// TPID and TCI of the inner tag (valid when `tagCount == 2`).
    var innerTPID: UInt16
    var innerTCI: UInt16
    /// The EtherType after the tags.
    var etherType: UInt16
    /// Offset of the first payload byte: 14 + 4 per tag.
    var payloadOffset: Int

    /// The 12-bit VLAN id of a TCI.
    @inline(__always) static func vid(_ tci: UInt16) -> UInt16 { tci & 0x0FFF }

    /// Bytes before the first tag: destination and source addresses.
    static let addressBytes = 12

    /// Parses the header of `length` bytes at `p`; nil when the frame is shorter than an
    /// Ethernet header or a tag header is cut short (the caller counts it as malformed).
    @inline(__always)
    static func parse(_ p: UnsafeRawPointer, length: Int) -> EthernetFrame? {
        guard length >= 14 else { return nil }
        var f = EthernetFrame(tagCount: 0, outerTPID: 0, outerTCI: 0, innerTPID: 0, innerTCI: 0,
                              etherType: p.readBE16(12), payloadOffset: 14)
        guard EtherType.isVlanTPID(f.etherType) else { return f }
        guard length >= 18 else { return nil }
        f.tagCount = 1
        f.outerTPID = f.etherType
        f.outerTCI = p.readBE16(14)
        f.etherType = p.readBE16(16)
        f.payloadOffset = 18
        guard EtherType.isVlanTPID(f.etherType) else { return f }
        guard length >= 22 else { return nil }
        f.tagCount = 2
        f.innerTPID = f.etherType
        f.innerTCI = p.readBE16(18)
        f.etherType = p.readBE16(20)
        f.payloadOffset = 22
        return f
    }

    @inline(__always)
    static func parse(_ head: PacketHead) -> EthernetFrame? {
        parse(UnsafeRawPointer(head.data), length: head.length)
    }

    @inline(__always) static func destination(_ p: UnsafeRawPointer) -> UInt64 {
        UInt64(p.readBE16(0)) << 32 | UInt64(p.readBE32(2))
    }
    @inline(__always) static func source(_ p: UnsafeRawPointer) -> UInt64 {
        UInt64(p.readBE16(6)) << 32 | UInt64(p.readBE32(8))
    }
}
