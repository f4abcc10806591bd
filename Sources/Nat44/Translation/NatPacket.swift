/// The fields of an IPv4 packet the gateway decides on, read once on arrival.
struct NatPacket {
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

    /// Reads the header at `ip`, whose length fields the caller has checked.
    @inline(__always)
    init(ip: UnsafeMutableRawPointer, l2: Int, ihl: Int, total: Int, pcp: UInt16) {
        self.ip = ip
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
