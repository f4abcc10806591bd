import BufferCache
import PacketFormats
import Pipeline

/// A new flow from an inside host over its per-host limit (`--max-sessions-per-host`,
/// `--new-sessions-per-host`): no mapping, and a fast failure for the application instead of a
/// silent drop. A SYN gets a TCP RST (as from the destination); UDP and ICMP get ICMP destination
/// unreachable, communication administratively prohibited (type 3 code 13, RFC 1812 5.2.7.1).
/// Both are generated within the ICMP error rate limit.
extension NatGateway {
    @inline(never)
    mutating func refuseOverQuota<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ proto: NatProtocol,
                                                                _ allocator: inout A) -> NatVerdict {
        if proto == .tcp {
            let flags = TCPFlags(pkt.l4.readU8(TCPFlags.offset))
            if flags.syn && !flags.ack && !pkt.isLaterFragment { sendReset(answering: pkt, &allocator) }
        } else {
            sendICMPError(about: pkt, type: ICMPType.destinationUnreachable, code: 13, word: 0, &allocator)
        }
        return drop(.hostQuota)
    }

    /// A RST+ACK for the SYN `pkt` (RFC 9293 3.10.7.1: seq 0, ack = the SYN's seq + its length),
    /// from its destination endpoint, back out of the side it came from.
    private mutating func sendReset<A: HeadAllocator & ~Copyable>(answering pkt: NatPacket, _ allocator: inout A) {
        guard icmpLimiter.take(now: pkt.now) else {
            counters.icmpErrorsRateLimited &+= 1
            return
        }
        guard let r = allocator.get() else {
            counters.drops[.noBuffer] &+= 1
            counters.dropsLater &+= 1
            return
        }
        let me = sides[pkt.side]
        let l2 = me.headerLength
        guard l2 + 40 <= r.tailroomLimit else {
            allocator.put(r)
            return
        }
        let syn = pkt.l4
        let dataLength = max(0, pkt.l4Length - Int(syn.readU8(12) >> 4) << 2)
        r.length = l2 + 40
        let q = r.data
        q.writeMAC(pkt.head.data.readMAC(6), 0)
        me.writeEthernetHeader(q, etherType: EtherType.ipv4)
        let o = q + l2
        o.writeU8(0x45, 0)
        o.writeU8(0, 1)
        o.writeBE16(40, 2)
        o.writeBE32(0x0000_4000, 4)
        o.writeU8(64, 8)
        o.writeU8(NatProtocol.tcp.rawValue, 9)
        o.writeBE16(0, 10)
        o.writeBE32(pkt.dst, 12)
        o.writeBE32(pkt.src, 16)
        o.writeBE16(InternetChecksum.compute(o, count: 20), 10)
        let t = o + 20
        t.writeBE16(syn.readBE16(2), 0)
        t.writeBE16(syn.readBE16(0), 2)
        t.writeBE32(0, 4)
        t.writeBE32(syn.readBE32(4) &+ 1 &+ UInt32(dataLength), 8)
        t.writeU8(5 << 4, 12)
        t.writeU8(0x14, 13)
        t.writeBE32(0, 14)
        t.writeBE16(0, 18)
        let pseudo = (pkt.dst >> 16) &+ (pkt.dst & 0xFFFF) &+ (pkt.src >> 16) &+ (pkt.src & 0xFFFF)
            &+ UInt32(NatProtocol.tcp.rawValue) &+ 20
        t.writeBE16(InternetChecksum.compute(t, count: 20, initial: pseudo), 16)
        counters.resetsSent &+= 1
        emit(r, pkt.side, &allocator)
    }
}
