import PacketFormats
import Pipeline

extension NatSteering {
    /// A classic BPF program for PACKET_FANOUT_CBPF that returns the socket (= worker) index a
    /// frame received on `side` belongs to, by the rule of `owner` without its forward and
    /// ICMP-error cases: the kernel then puts most frames on their owner and the workers hand
    /// off only the rest. Sockets must join the fanout group in worker order.
    ///
    /// It runs where the packet socket's fanout sees the skb: data at the network header, the
    /// outer VLAN tag out of band, so the EtherType is the ancillary protocol load. IPv4 is at
    /// offset 0, or at 4 behind one in-band inner tag (802.1Q/802.1ad carrying IPv4). For TCP/UDP
    /// that is not a non-first fragment: the source port's block (inside) or the destination
    /// port's (outside) modulo `workers`; ICMP echo request or reply: the identifier's block.
    /// Everything else, ARP and fragments included, goes to socket 0.
    public static func fanoutProgram(for side: Side, workers: Int) -> [ClassicBPFInstruction] {
        precondition(workers >= 1 && workers <= NatWorkerShare.maxWorkers)
        typealias I = ClassicBPFInstruction
        typealias B = ClassicBPF
        let untagged = ipv4Owner(at: 0, side: side, workers: workers)
        // Head: 0 load the protocol; 1 IPv4 → the untagged body (at 7); 2, 3 a tag → 4; 4 load the
        // inner EtherType; 5 IPv4 → the tagged body (after the untagged one); 6 return 0.
        return [
            I(code: B.ld | B.w | B.abs, k: B.ancillaryProtocol),
            I(code: B.jmp | B.jeq | B.k, jt: 5, jf: 0, k: UInt32(EtherType.ipv4)),
            I(code: B.jmp | B.jeq | B.k, jt: 1, jf: 0, k: UInt32(EtherType.vlan)),
            I(code: B.jmp | B.jeq | B.k, jt: 0, jf: 2, k: UInt32(EtherType.qinq)),
            I(code: B.ld | B.h | B.abs, k: 2),
            I(code: B.jmp | B.jeq | B.k, jt: UInt8(untagged.count + 1), jf: 0, k: UInt32(EtherType.ipv4)),
            I(code: B.ret | B.k, k: 0),
        ] + untagged + ipv4Owner(at: 4, side: side, workers: workers)
    }

    /// The body for an IPv4 header at offset `b`: ends in its own returns, so the jumps are local.
    private static func ipv4Owner(at b: UInt32, side: Side, workers: Int) -> [ClassicBPFInstruction] {
        typealias I = ClassicBPFInstruction
        typealias B = ClassicBPF
        let port: UInt32 = side == .inside ? 0 : 2
        // Labels: TCP/UDP at 6, ICMP at 9, identifier at 13, the block and modulo at 14, return 0
        // at 17. Jump offsets count from the next instruction.
        return [
            /* 0 */ I(code: B.ld | B.h | B.abs, k: b + 6),
            /* 1 */ I(code: B.jmp | B.jset | B.k, jt: 15, jf: 0, k: 0x1FFF),
            /* 2 */ I(code: B.ld | B.b | B.abs, k: b + 9),
            /* 3 */ I(code: B.jmp | B.jeq | B.k, jt: 2, jf: 0, k: UInt32(NatProtocol.tcp.rawValue)),
            /* 4 */ I(code: B.jmp | B.jeq | B.k, jt: 1, jf: 0, k: UInt32(NatProtocol.udp.rawValue)),
            /* 5 */ I(code: B.jmp | B.jeq | B.k, jt: 3, jf: 11, k: UInt32(NatProtocol.icmp.rawValue)),
            /* 6 */ I(code: B.ldx | B.b | B.msh, k: b),
            /* 7 */ I(code: B.ld | B.h | B.ind, k: b + port),
            /* 8 */ I(code: B.jmp | B.ja, k: 5),
            /* 9 */ I(code: B.ldx | B.b | B.msh, k: b),
            /* 10 */ I(code: B.ld | B.b | B.ind, k: b),
            /* 11 */ I(code: B.jmp | B.jeq | B.k, jt: 1, jf: 0, k: UInt32(ICMPType.echoRequest)),
            /* 12 */ I(code: B.jmp | B.jeq | B.k, jt: 0, jf: 4, k: UInt32(ICMPType.echoReply)),
            /* 13 */ I(code: B.ld | B.h | B.ind, k: b + 4),
            /* 14 */ I(code: B.alu | B.rsh | B.k, k: 6),
            /* 15 */ I(code: B.alu | B.mod | B.k, k: UInt32(workers)),
            /* 16 */ I(code: B.ret | B.a),
            /* 17 */ I(code: B.ret | B.k, k: 0),
        ]
    }
}
