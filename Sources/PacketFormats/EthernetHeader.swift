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

    /// An untagged header with `etherType`; `parse` adds the tags it finds.
    @inlinable
    init(etherType: UInt16) {
        tagCount = 0
        outerTPID = 0
        outerTCI = 0
        innerTPID = 0
        innerTCI = 0
        self.etherType = etherType
        payloadOffset = 14
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
        var f = EthernetHeader(etherType: p.readBE16(12))
        while f.tagCount < 2 && EtherType.isVlanTPID(f.etherType) {
            let tag = f.payloadOffset
            guard length >= tag + 4 else { return nil }
            if f.tagCount == 0 {
                f.outerTPID = f.etherType
                f.outerTCI = p.readBE16(tag)
            } else {
                f.innerTPID = f.etherType
                f.innerTCI = p.readBE16(tag)
            }
            f.etherType = p.readBE16(tag + 2)
            f.payloadOffset = tag + 4
            f.tagCount += 1
        }
        return f
    }

    @inlinable @inline(__always)
    public static func parse(_ head: PacketHead) -> EthernetHeader? {
        parse(UnsafeRawPointer(head.data), length: head.length)
    }
}
