import BufferCache
import PacketFormats
import Pipeline

/// How frames leave the gateway: translated packets through `egress`, generated and released
/// frames through the output ring.
extension NatGateway {
    /// Completes a translation whose addresses and ports are rewritten: MSS clamping (a SYN, with
    /// `--mss-clamp`), checksums, the record later fragments are translated by (when this is a
    /// first fragment), and egress.
    @inline(__always)
    mutating func forwardTranslated<A: HeadAllocator & ~Copyable>(
        _ pkt: NatPacket, _ proto: NatProtocol, _ delta: RewriteDelta, to side: Side, nextHop: UInt32,
        _ allocator: inout A
    ) -> NatVerdict {
        var delta = delta
        if mssLimit != 0 && proto == .tcp && TCPFlags(pkt.l4.readU8(TCPFlags.offset)).syn {
            let change = pkt.clampMSS(to: mssLimit)
            if change != 0 {
                delta.port &+= change
                counters.mssClamped &+= 1
            }
        }
        pkt.finishRewrite(proto, delta)
        if pkt.moreFragments {
            // Later fragments get the addresses the header has now.
            let rewrite = FragmentRewrite(src: pkt.ip.readBE32(AddressField.source.offset),
                                          dst: pkt.ip.readBE32(AddressField.destination.offset),
                                          egress: side, nextHop: nextHop)
            recordFirstFragment(pkt, rewrite, &allocator)
        }
        return egress(pkt, to: side, nextHop: nextHop, &allocator)
    }

    /// Writes the egress Ethernet header (own MAC, the side's tag, the next hop's MAC) and sends,
    /// or holds the packet while the next hop is resolved.
    @inline(__always)
    mutating func egress<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, to side: Side, nextHop: UInt32,
                                                       _ allocator: inout A) -> NatVerdict {
        let head = pkt.head, l2 = pkt.l2, now = pkt.now
        let out = sides[side]
        let newL2 = out.headerLength
        if newL2 < l2 {
            head.removeBytes(at: 0, count: l2 - newL2)
        } else if newL2 > l2 {
            guard head.insertGap(at: 0, count: newL2 - l2) != nil else { return drop(.noHeadroom) }
        }
        let p = head.data
        out.writeEthernetHeader(p, etherType: EtherType.ipv4, pcp: pkt.pcp)
        let n = neighbours.find(side, nextHop)
        if let n, neighbours[n].state == .reachable {
            p.writeMAC(neighbours[n].mac, 0)
            // Last use is recorded at most once a second: a store per packet would dirty the
            // neighbour's cache line for nothing.
            if now &- neighbours[n].used > 1_000_000_000 { touchNeighbour(n, now, &allocator) }
            return .forward(side)
        }
        return resolve(head, side, nextHop, n, now, &allocator)
    }

    /// Queues a generated or released frame; when the ring is full the head goes back.
    @inline(never)
    mutating func emit<A: HeadAllocator & ~Copyable>(_ head: PacketHead, _ side: Side, _ allocator: inout A) {
        if !output.push((side, head)) {
            counters.drops[.outputFull] &+= 1
            counters.dropsLater &+= 1
            allocator.put(head)
        }
    }
}
