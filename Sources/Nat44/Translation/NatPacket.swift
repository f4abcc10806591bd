import BufferCache
import Pipeline

/// A received IPv4 packet as the gateway handles it: the head, where and when it arrived, and
/// the header fields decisions are made on, read once.
struct NatPacket {
    let head: PacketHead
    /// The side it came in on; ICMP errors and echo replies about it go back out of this side.
    let side: Side
    /// Arrival time (ns, the caller's clock).
    let now: UInt64
    /// The IPv4 header in the frame.
    let ip: UnsafeMutableRawPointer
    /// Ethernet header length (14 + 4 per tag) as received.
    let l2: Int
    let ihl: Int
    let total: Int
    let src: UInt32
    let dst: UInt32
    let proto: UInt8
    let ttl: UInt8
    /// Flags and fragment offset word.
    let fragField: UInt16
    /// PCP and DEI bits of the ingress tag (0 when untagged): carried to the egress tag.
    let pcp: UInt16

    /// Reads the IPv4 header `l2` bytes into `head`, whose length fields the caller has checked.
    @inline(__always)
    init(_ head: PacketHead, from side: Side, now: UInt64, l2: Int, ihl: Int, total: Int, pcp: UInt16) {
        self.head = head
        self.side = side
        self.now = now
        ip = head.data + l2
        self.l2 = l2
        self.ihl = ihl
        self.total = total
        src = ip.readBE32(12)
        dst = ip.readBE32(16)
        proto = ip.readU8(9)
        ttl = ip.readU8(8)
        fragField = ip.readBE16(6)
        self.pcp = pcp
    }

    /// The transport header (of a first fragment or a whole packet).
    @inline(__always) var l4: UnsafeMutableRawPointer { ip + ihl }
    @inline(__always) var l4Length: Int { total - ihl }

    @inline(__always) var moreFragments: Bool { fragField & 0x2000 != 0 }
    @inline(__always) var dontFragment: Bool { fragField & 0x4000 != 0 }
    /// A fragment other than the first: no transport header.
    @inline(__always) var isLaterFragment: Bool { fragField & 0x1FFF != 0 }
    @inline(__always) var isICMP: Bool { proto == NatProtocol.icmp.rawValue }
    /// The IP ID (untouched by translation).
    @inline(__always) var id: UInt16 { ip.readBE16(4) }
}
