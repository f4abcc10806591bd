// Real frames for the NAT prologue: ARP requests from the neighbours, outbound flows (UDP, TCP,
// ICMP echo) and a first fragment, built with correct checksums so the gateway takes them.

enum FuzzFrames {
    static func mac(_ v: UInt64) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: v >> (8 * (5 - $0))) } }
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt16 {
        var sum = initial
        var i = 0
        while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func ethernet(dst: UInt64, src: UInt64, vlan: UInt16, type: UInt16) -> [UInt8] {
        mac(dst) + mac(src) + be16(0x8100) + be16(vlan) + be16(type)
    }

    static func arpRequest(senderMAC: UInt64, senderIP: UInt32, target: UInt32, vlan: UInt16) -> [UInt8] {
        ethernet(dst: 0xFFFF_FFFF_FFFF, src: senderMAC, vlan: vlan, type: 0x0806)
            + be16(1) + be16(0x0800) + [6, 4] + be16(1)
            + mac(senderMAC) + be32(senderIP) + mac(0) + be32(target)
    }

    /// IPv4 header + `l4` (whose checksum field, if any, the caller has filled).
    static func ipv4(src: UInt32, dst: UInt32, proto: UInt8, id: UInt16, flagsFragment: UInt16, ttl: UInt8 = 64,
                     payload: [UInt8]) -> [UInt8] {
        var h = [0x45, 0] + be16(UInt16(20 + payload.count)) + be16(id) + be16(flagsFragment) + [ttl, proto, 0, 0]
            + be32(src) + be32(dst)
        let c = checksum(h)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        return h + payload
    }

    static func pseudo(_ src: UInt32, _ dst: UInt32, _ proto: UInt8, _ length: Int) -> UInt32 {
        (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + UInt32(proto) + UInt32(length)
    }

    static func udp(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, payload: [UInt8]) -> [UInt8] {
        var u = be16(sport) + be16(dport) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
        var c = checksum(u, initial: pseudo(src, dst, 17, u.count))
        if c == 0 { c = 0xFFFF }
        u[6] = UInt8(c >> 8); u[7] = UInt8(c & 0xFF)
        return u
    }

    static func tcp(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, flags: UInt8, seq: UInt32) -> [UInt8] {
        var t = be16(sport) + be16(dport) + be32(seq) + be32(0) + [0x50, flags] + be16(65535) + [0, 0, 0, 0]
        let c = checksum(t, initial: pseudo(src, dst, 6, t.count))
        t[16] = UInt8(c >> 8); t[17] = UInt8(c & 0xFF)
        return t
    }

    static func icmpEcho(id: UInt16, seq: UInt16) -> [UInt8] {
        var m: [UInt8] = [8, 0, 0, 0] + be16(id) + be16(seq) + Array(repeating: 0x61, count: 16)
        let c = checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xFF)
        return m
    }
}
