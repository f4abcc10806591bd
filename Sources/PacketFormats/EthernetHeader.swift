import BufferCache

/// The Ethernet header of a frame as it sits in the bytes: addresses, up to two VLAN tags, the
/// EtherType and where the payload starts.
///
/// libpcap restores a VLAN tag the kernel had moved into metadata back into the bytes, so the
/// tags are always inline; `HeadMeta.vlanTCI` is not consulted. Parsing is a few loads and no
/// allocation: the VLAN map and the NAT gateway both call it once per frame.
public struct EthernetHeader {
    /// Number of VLAN tags found (0, 1 or 2). A third tag is not parsed: `etherType` is then a
    /// VLAN TPID, which every user treats as "not mine".
    public var tagCount: Int
    /// TPID and TCI of the outer tag (valid when `tagCount >= 1`).
    public var outerTPID: UInt16
    public var outerTCI: UInt16
    /// TPID and TCI of the inner tag (valid when `tagCount == 2`).
    public var innerTPID: UInt16
    public var innerTCI: UInt16
    /// The EtherType after the tags.
    public var etherType: UInt16
    /// Offset of the first payload byte: 14 + 4 per tag.
    public var payloadOffset: Int

    @inlinable
    public init(tagCount: Int, outerTPID: UInt16, outerTCI: UInt16, innerTPID: UInt16, innerTCI: UInt16,
                etherType: UInt16, payloadOffset: Int) {
        self.tagCount = tagCount
        self.outerTPID = outerTPID
        self.outerTCI = outerTCI
        self.innerTPID = innerTPID
        self.innerTCI = innerTCI
        self.etherType = etherType
        self.payloadOffset = payloadOffset
    }

    /// The 12-bit VLAN id of a TCI.
    @inlinable @inline(__always) public static func vid(_ tci: UInt16) -> UInt16 { tci & 0x0FFF }

    /// Bytes before the first tag: destination and source addresses.
    public static let addressBytes = 12

    /// Parses the header of `length` bytes at `p`; nil when the frame is shorter than an
    /// Ethernet header or a tag header is cut short (the caller counts it as malformed).
    @inlinable @inline(__always)
    public static func parse(_ p: UnsafeRawPointer, length: Int) -> EthernetHeader? {
        guard length >= 14 else { return nil }
        var f = EthernetHeader(tagCount: 0, outerTPID: 0, outerTCI: 0, innerTPID: 0, innerTCI: 0,
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

    @inlinable @inline(__always)
    public static func parse(_ head: PacketHead) -> EthernetHeader? {
        parse(UnsafeRawPointer(head.data), length: head.length)
    }
}
