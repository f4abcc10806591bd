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
        let syn = pkt.l4
        let dataLength = max(0, pkt.l4Length - Int(syn.readU8(12) >> 4) << 2)
        guard let (r, o) = answerFrame(to: pkt, ipLength: 40, proto: NatProtocol.tcp.rawValue, tos: 0, dontFragment: true,
                                       from: pkt.dst, &allocator) else { return }
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

/// An outbound flow's session, or the verdict that refuses its packet.
enum OutboundStart {
    case session(SessionIndex)
    case refused(NatVerdict)
}

extension NatGateway {
    /// The session of `pkt`'s outbound flow from `sport`, or why not: the table is full, no port
    /// is free, or its host is over its quota (answered with a RST or an ICMP error).
    @inline(__always)
    mutating func outboundSession<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ proto: NatProtocol, sport: UInt16,
                                                               _ allocator: inout A) -> OutboundStart {
        switch outboundSession(SessionKey(proto: proto, address: pkt.src, port: sport), l4: pkt.l4, now: pkt.now) {
        case .session(let i): return .session(i)
        case .tableFull: return .refused(drop(.tableFull))
        case .portsExhausted: return .refused(drop(.portsExhausted))
        case .hostQuota: return .refused(refuseOverQuota(pkt, proto, &allocator))
        }
    }
}
