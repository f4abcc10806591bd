import BufferCache
import PacketFormats
import Pipeline

/// An IPv4 packet's first stop: header checks, then where it goes (translated out, translated
/// in, hairpinned, for the gateway itself, or nowhere).
extension NatGateway {
    @inline(__always)
    mutating func processIPv4<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ side: Side, l2: Int, pcp: UInt16, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let ip = head.data + l2
        let avail = head.length - l2
        guard avail >= 20 else { return drop(.malformed) }
        let vihl = ip.readU8(0)
        let ihl = Int(vihl & 0x0F) << 2
        guard vihl >> 4 == 4, ihl >= 20, ihl <= avail else { return drop(.malformed) }
        let total = Int(ip.readBE16(2))
        guard total >= ihl, total <= avail else { return drop(.malformed) }
        guard InternetChecksum.verify(ip, count: ihl) else { return drop(.badChecksum) }
        // Strip Ethernet padding: the egress side may need a different header length, and the
        // NIC pads short frames again.
        if total < avail { head.length = l2 + total }
        let pkt = NatPacket(head, from: side, now: now, l2: l2, ihl: ihl, total: total, pcp: pcp)
        if isMartianSource(pkt.src, side) { return drop(.martian) }
        if pkt.isLaterFragment { return laterFragment(pkt, &allocator) }
        let dst = pkt.dst
        let inside = sides.inside, outside = sides.outside
        if side == .inside {
            if dst == outside.address { return hairpin(pkt, &allocator) }
            if dst == inside.address { return toOwnAddress(pkt) }
            if inside.isOnLink(dst) || dst == 0xFFFF_FFFF || Self.isMulticast(dst)
                || dst == outside.broadcast || dst == outside.network || dst == 0 {
                return drop(.noRoute)
            }
            guard let nextHop = outside.isOnLink(dst) ? dst : outside.router else { return noRoute(pkt, &allocator) }
            return outbound(pkt, nextHop: nextHop, &allocator)
        }
        if dst == outside.address { return inbound(pkt, &allocator) }
        if dst == inside.address { return drop(.toGateway) }
        return drop(.noRoute)
    }

    /// A source that cannot be genuine on `side`: unspecified, broadcast, multicast, loopback,
    /// one of our own addresses; from inside, anything but a host of the inside subnet.
    @inline(__always)
    func isMartianSource(_ src: UInt32, _ side: Side) -> Bool {
        if src == 0 || src == 0xFFFF_FFFF || Self.isMulticast(src) || src >> 24 == 127 { return true }
        if src == sides.inside.address || src == sides.outside.address { return true }
        if side == .inside { return !sides.inside.isHost(src) }
        return src == sides.outside.broadcast
    }

    @inline(__always)
    static func isMulticast(_ ip: UInt32) -> Bool { ip >> 28 == 0xE }
}
