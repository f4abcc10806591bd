import BufferCache
import PacketFormats

/// A received frame's headers as read once on arrival: the link header (its length, tags and
/// EtherType) and, for IPv4, where the IP header is and the fields steering and the fragment
/// directory decide on (IHL, protocol, fragment bits). `NatProcessor` makes it and hands it to
/// steering, the fragment directory and the gateway, which each used to parse the frame again.
/// Valid while the frame is unchanged (until the gateway rewrites it).
struct NatFrameView {
    /// The frame's first byte and its length.
    let bytes: UnsafeRawPointer
    let length: Int
    /// nil: shorter than an Ethernet header, or a tag cut short.
    let eth: EthernetHeader?
    /// IPv4 with room for a 20-byte header after the link header.
    let isIPv4: Bool
    /// For IPv4: the IHL in bytes as the header says (not yet checked: may be under 20), the
    /// protocol and the flags/fragment-offset word; 0 for anything else.
    let ihl: Int
    let proto: UInt8
    let fragField: UInt16

    @inline(__always)
    init(_ bytes: UnsafeRawPointer, length: Int) {
        self.bytes = bytes
        self.length = length
        eth = EthernetHeader.parse(bytes, length: length)
        if let eth, eth.etherType == EtherType.ipv4, length - eth.payloadOffset >= 20 {
            let ip = bytes + eth.payloadOffset
            isIPv4 = true
            ihl = Int(ip.readU8(0) & 0x0F) << 2
            proto = ip.readU8(9)
            fragField = ip.readBE16(6)
        } else {
            isIPv4 = false
            ihl = 0
            proto = 0
            fragField = 0
        }
    }

    @inline(__always)
    init(_ head: PacketHead) { self.init(UnsafeRawPointer(head.data), length: head.length) }

    /// The link header's length: the IP header's offset.
    @inline(__always) var ipOffset: Int { eth?.payloadOffset ?? 0 }
    /// The transport header's offset (of a first fragment or a whole packet).
    @inline(__always) var l4Offset: Int { ipOffset + ihl }
    /// A fragment other than the first: no transport header.
    @inline(__always) var isLaterFragment: Bool { fragField & 0x1FFF != 0 }
    /// A first fragment: more fragments set, offset 0.
    @inline(__always) var isFirstFragment: Bool { fragField & 0x3FFF == 0x2000 }
}
