import PacketFormats
@testable import Nat44

/// Frames built field by field for the multi-worker tests (the fixtures' base configuration:
/// inside 192.168.10.1/24 on VLAN 10, outside 203.0.113.2/24 on VLAN 20, router 203.0.113.1),
/// with every checksum computed in full.
enum TestFrames {
    static let insideVLAN: UInt16 = 10, outsideVLAN: UInt16 = 20
    static let insideGatewayMAC: UInt64 = 0x0200_0000_0101, outsideGatewayMAC: UInt64 = 0x0200_0000_0202
    static let router = ip("203.0.113.1"), outsideAddress = ip("203.0.113.2"), insideAddress = ip("192.168.10.1")
    static let routerMAC: UInt64 = 0x0200_0000_00FE

    static func ip(_ s: String) -> UInt32 { IPv4Address(s)!.value }
    static func hostMAC(_ ip: UInt32) -> UInt64 { 0x0200_0000_0000 | UInt64(ip & 0xFFFF) }

    /// Ethernet (one tag, `vlan`) + `payload`.
    static func ethernet(vlan: UInt16?, src: UInt64, dst: UInt64, etherType: UInt16, _ payload: [UInt8]) -> [UInt8] {
        var f = mac(dst) + mac(src)
        if let vlan { f += be16(0x8100) + be16(vlan) }
        return f + be16(etherType) + payload
    }

    /// An IPv4 packet; `fragment` is the flags/offset word (MF 0x2000, offset in 8-byte units).
    static func ipv4(src: UInt32, dst: UInt32, proto: UInt8, _ l4: [UInt8], id: UInt16 = 0x1234, fragment: UInt16 = 0,
                     ttl: UInt8 = 64) -> [UInt8] {
        var h: [UInt8] = [0x45, 0] + be16(UInt16(20 + l4.count)) + be16(id) + be16(fragment) + [ttl, proto, 0, 0]
            + be32(src) + be32(dst)
        let c = checksum(h)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        return h + l4
    }

    static func udp(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, _ payload: [UInt8] = [1, 2, 3, 4]) -> [UInt8] {
        var u = be16(sport) + be16(dport) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
        var c = checksum(pseudo(src, dst, 17, u.count) + u)
        if c == 0 { c = 0xFFFF }
        u[6] = UInt8(c >> 8); u[7] = UInt8(c & 0xFF)
        return u
    }

    /// A TCP header; `options` (padded by the caller to a multiple of 4) follow it.
    static func tcp(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, flags: UInt8, options: [UInt8] = []) -> [UInt8] {
        let offset = UInt8((20 + options.count) / 4) << 4
        var t = be16(sport) + be16(dport) + be32(1000) + be32(flags & 0x10 != 0 ? 2000 : 0) + [offset, flags] + be16(8192)
            + [0, 0, 0, 0] + options
        let c = checksum(pseudo(src, dst, 6, t.count) + t)
        t[16] = UInt8(c >> 8); t[17] = UInt8(c & 0xFF)
        return t
    }

    static func icmp(type: UInt8, code: UInt8 = 0, rest: [UInt8]) -> [UInt8] {
        var m = [type, code, 0, 0] + rest
        let c = checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xFF)
        return m
    }

    static func echo(request: Bool, id: UInt16, seq: UInt16 = 1) -> [UInt8] {
        icmp(type: request ? 8 : 0, rest: be16(id) + be16(seq) + [9, 9, 9, 9])
    }

    /// A frame from an inside host (to the gateway's inside MAC).
    static func fromInside(_ packet: [UInt8]) -> [UInt8] {
        ethernet(vlan: insideVLAN, src: hostMAC(UInt32(packet[12]) << 24 | UInt32(packet[13]) << 16
                                                | UInt32(packet[14]) << 8 | UInt32(packet[15])),
                 dst: insideGatewayMAC, etherType: 0x0800, packet)
    }

    /// A frame from the router (to the gateway's outside MAC).
    static func fromOutside(_ packet: [UInt8]) -> [UInt8] {
        ethernet(vlan: outsideVLAN, src: routerMAC, dst: outsideGatewayMAC, etherType: 0x0800, packet)
    }

    /// An ARP request for the gateway's address from `spa` on the given side.
    static func arpRequest(from spa: UInt32, mac sha: UInt64, to tpa: UInt32, vlan: UInt16, reply: Bool = false,
                           targetMAC: UInt64 = 0) -> [UInt8] {
        let a = be16(1) + be16(0x0800) + [6, 4] + be16(reply ? 2 : 1) + mac(sha) + be32(spa) + mac(targetMAC) + be32(tpa)
        return ethernet(vlan: vlan, src: sha, dst: reply ? targetMAC : 0xFFFF_FFFF_FFFF, etherType: 0x0806, a)
    }

    // MARK: reading frames

    /// The IPv4 packet of a frame (after its tags).
    static func packet(_ f: [UInt8]) -> [UInt8] {
        var off = 12
        while f[off] == 0x81 && f[off + 1] == 0x00 { off += 4 }
        return Array(f[(off + 2)...])
    }

    static func src(_ p: [UInt8]) -> UInt32 { word(p, 12) }
    static func dst(_ p: [UInt8]) -> UInt32 { word(p, 16) }
    static func sport(_ p: [UInt8]) -> UInt16 { half(p, Int(p[0] & 0xF) * 4) }
    static func dport(_ p: [UInt8]) -> UInt16 { half(p, Int(p[0] & 0xF) * 4 + 2) }
    static func half(_ p: [UInt8], _ at: Int) -> UInt16 { UInt16(p[at]) << 8 | UInt16(p[at + 1]) }
    static func word(_ p: [UInt8], _ at: Int) -> UInt32 { UInt32(half(p, at)) << 16 | UInt32(half(p, at + 2)) }

    // MARK: bytes

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xFFFF)) }
    static func mac(_ v: UInt64) -> [UInt8] { be16(UInt16(v >> 32 & 0xFFFF)) + be32(UInt32(v & 0xFFFF_FFFF)) }
    /// True when the TCP/UDP checksum of IPv4 packet `p` is right (a UDP 0 counts as right).
    static func transportChecksumOK(_ p: [UInt8]) -> Bool {
        let ihl = Int(p[0] & 0xF) * 4
        let l4 = Array(p[ihl...])
        if p[9] == 17 && l4[6] == 0 && l4[7] == 0 { return true }
        return checksum(pseudo(src(p), dst(p), p[9], l4.count) + l4) == 0
    }

    static func pseudo(_ src: UInt32, _ dst: UInt32, _ proto: UInt8, _ length: Int) -> [UInt8] {
        be32(src) + be32(dst) + [0, proto] + be16(UInt16(length))
    }
    static func checksum(_ b: [UInt8]) -> UInt16 {
        var s: UInt32 = 0
        var i = 0
        while i + 1 < b.count { s += UInt32(b[i]) << 8 | UInt32(b[i + 1]); i += 2 }
        if i < b.count { s += UInt32(b[i]) << 8 }
        while s > 0xFFFF { s = (s & 0xFFFF) + (s >> 16) }
        return ~UInt16(s)
    }
}
