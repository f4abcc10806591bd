import BufferCache
import PacketFormats
import Pipeline

/// ICMP errors the gateway itself sends, about packets it cannot forward.
extension NatGateway {
    /// TTL ran out on a packet to route: time exceeded back to the sender, packet dropped.
    @inline(never)
    mutating func timeExceeded<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ allocator: inout A) -> NatVerdict {
        sendICMPError(about: pkt, type: ICMPType.timeExceeded, code: 0, word: 0, &allocator)
        return drop(.ttlExceeded)
    }

    /// An inside host's unicast packet to a destination beyond the outside subnet with no
    /// `--gateway`: network unreachable back to it (RFC 1812 5.2.7.1), so that its application
    /// fails at once instead of waiting for its own timeout.
    @inline(never)
    mutating func noRoute<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ allocator: inout A) -> NatVerdict {
        sendICMPError(about: pkt, type: ICMPType.destinationUnreachable, code: 0, word: 0, &allocator)
        return drop(.noRoute)
    }

    /// Too big for the egress MTU: fragmentation needed (with the MTU) when DF is set (RFC 4787
    /// REQ-13); dropped either way (the gateway does not fragment).
    @inline(never)
    mutating func tooBig<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, mtu: Int, _ allocator: inout A) -> NatVerdict {
        if pkt.dontFragment {
            sendICMPError(about: pkt, type: ICMPType.destinationUnreachable, code: 4, word: UInt32(min(mtu, 0xFFFF)),
                          &allocator)
        }
        return drop(.tooBig)
    }

    /// A frame the gateway generates in answer to `pkt` (an ICMP error, a RST), within the ICMP
    /// error rate limit (RFC 1812 4.3.2.8): a head addressed back to `pkt`'s sender on its side,
    /// with an IPv4 header (`ipLength` bytes in all, ID 0, TTL 64) from `source` to `pkt`'s
    /// source. Returns the head and its IPv4 header; nil when nothing is sent (counted).
    @inline(never)
    mutating func answerFrame<A: HeadAllocator & ~Copyable>(
        to pkt: NatPacket, ipLength: Int, proto: UInt8, tos: UInt8, dontFragment: Bool, from source: UInt32,
        _ allocator: inout A
    ) -> (PacketHead, UnsafeMutableRawPointer)? {
        guard icmpLimiter.take(now: pkt.now) else {
            counters.icmpErrorsRateLimited &+= 1
            return nil
        }
        guard let r = allocator.get() else {
            counters.drops[.noBuffer] &+= 1
            counters.dropsLater &+= 1
            return nil
        }
        let me = sides[pkt.side]
        let l2 = me.headerLength
        guard l2 + ipLength <= r.tailroomLimit else {
            allocator.put(r)
            return nil
        }
        r.length = l2 + ipLength
        let q = r.data
        q.writeMAC(pkt.head.data.readMAC(6), 0)
        me.writeEthernetHeader(q, etherType: EtherType.ipv4)
        let o = q + l2
        o.writeU8(0x45, 0)
        o.writeU8(tos, 1)
        o.writeBE16(UInt16(ipLength), 2)
        o.writeBE32(dontFragment ? 0x0000_4000 : 0, 4)
        o.writeU8(64, 8)
        o.writeU8(proto, 9)
        o.writeBE16(0, 10)
        o.writeBE32(source, 12)
        o.writeBE32(pkt.src, 16)
        o.writeBE16(InternetChecksum.compute(o, count: 20), 10)
        return (r, o)
    }

    /// Sends an ICMP error about `pkt` (as received) back out of the side it came from to its
    /// sender's MAC, from the side's own address: IPv4 TOS 0xC0, TTL 64, ID 0, and as much of the
    /// offending packet as fits in 576 bytes (RFC 1812 4.3.2.3). Never about an ICMP error or a
    /// non-first fragment (RFC 1812 4.3.2.7); rate limited by a token bucket.
    @inline(never)
    mutating func sendICMPError<A: HeadAllocator & ~Copyable>(about pkt: NatPacket, type: UInt8, code: UInt8,
                                                              word: UInt32, _ allocator: inout A) {
        if pkt.isLaterFragment { return }
        if pkt.isICMP {
            guard pkt.l4Length >= 1 else { return }
            let t = pkt.l4.readU8(0)
            if ICMPType.isError(t) || t == ICMPType.sourceQuench || t == ICMPType.redirect { return }
        }
        let quote = min(pkt.total, 576 - 28)
        guard let (r, o) = answerFrame(to: pkt, ipLength: 28 + quote, proto: NatProtocol.icmp.rawValue, tos: 0xC0,
                                       dontFragment: false, from: sides[pkt.side].address, &allocator) else { return }
        let icmp = o + 20
        icmp.writeU8(type, 0)
        icmp.writeU8(code, 1)
        icmp.writeBE16(0, 2)
        icmp.writeBE32(word, 4)
        (icmp + 8).copyMemory(from: pkt.ip, byteCount: quote)
        icmp.writeBE16(InternetChecksum.compute(icmp, count: 8 + quote), 2)
        counters.icmpErrorsSent &+= 1
        emit(r, pkt.side, &allocator)
    }
}
