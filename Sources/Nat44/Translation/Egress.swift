import BufferCache
import PacketFormats
import Pipeline

/// How frames leave the gateway: translated packets through `egress`, generated and released
/// frames through the output ring.
extension NatGateway {
    /// Writes the egress Ethernet header (own MAC, the side's tag, the next hop's MAC) and sends,
    /// or holds the packet while the next hop is resolved.
    @inline(__always)
    mutating func egress<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, l2: Int, pcp: UInt16, to side: Side, nextHop: UInt32, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let out = sides[side]
        let newL2 = out.headerLength
        if newL2 < l2 {
            head.removeBytes(at: 0, count: l2 - newL2)
        } else if newL2 > l2 {
            guard head.insertGap(at: 0, count: newL2 - l2) != nil else { return drop(.noHeadroom) }
        }
        let p = head.data
        out.writeEthernetHeader(p, etherType: EtherType.ipv4, pcp: pcp)
        let n = neighbours.find(side, nextHop)
        if let n, neighbours[n].state == .reachable {
            p.writeMAC(neighbours[n].mac, 0)
            if now &- neighbours[n].used > 1_000_000_000 { touchNeighbour(n, now, &allocator) }
            return .forward(side)
        }
        return resolve(head, side, nextHop, n, now, &allocator)
    }

    /// Queues a generated or released frame; when the ring is full the head goes back.
    @inline(never)
    mutating func emit<A: HeadAllocator & ~Copyable>(_ head: PacketHead, _ side: Side, _ allocator: inout A) {
        if !output.push(head, side) {
            counters.drops[.outputFull] &+= 1
            allocator.put(head)
        }
    }
}
