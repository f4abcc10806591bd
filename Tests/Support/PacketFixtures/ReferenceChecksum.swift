/// An independent Internet checksum verifier: the one's-complement sum, byte pair by byte pair.
public enum ReferenceChecksum {
    public static func sum(_ b: ArraySlice<UInt8>) -> UInt32 {
        var s: UInt32 = 0
        var i = b.startIndex
        while i + 1 < b.endIndex {
            s += UInt32(b[i]) << 8 | UInt32(b[i + 1])
            i += 2
        }
        if i < b.endIndex { s += UInt32(b[i]) << 8 }
        while s > 0xFFFF { s = (s & 0xFFFF) + (s >> 16) }
        return s
    }

    /// Problems with the checksums of an Ethernet/IPv4 frame: the IPv4 header always, TCP/UDP
    /// (with pseudo-header) and ICMP when the packet is not a fragment. Empty = all correct.
    public static func problems(_ f: [UInt8]) -> [String] {
        var off = 12
        var type = Int(f[off]) << 8 | Int(f[off + 1])
        while type == 0x8100 || type == 0x88A8 {
            off += 4
            type = Int(f[off]) << 8 | Int(f[off + 1])
        }
        guard type == 0x0800 else { return [] }
        let ip = off + 2
        let ihl = Int(f[ip] & 0x0F) * 4
        let total = Int(f[ip + 2]) << 8 | Int(f[ip + 3])
        var out: [String] = []
        if sum(f[ip..<ip + ihl]) != 0xFFFF { out.append("IPv4 header checksum") }
        let frag = Int(f[ip + 6]) << 8 | Int(f[ip + 7])
        guard frag & 0x3FFF == 0 else { return out }
        let proto = f[ip + 9]
        let l4 = f[(ip + ihl)..<(ip + total)]
        var pseudo = [UInt8](f[(ip + 12)..<(ip + 20)])
        pseudo += [0, proto, UInt8(l4.count >> 8), UInt8(l4.count & 0xFF)]
        switch proto {
        case 6:
            if sum(ArraySlice(pseudo + Array(l4))) != 0xFFFF { out.append("TCP checksum") }
        case 17:
            let stored = Int(l4[l4.startIndex + 6]) << 8 | Int(l4[l4.startIndex + 7])
            if stored != 0 && sum(ArraySlice(pseudo + Array(l4))) != 0xFFFF { out.append("UDP checksum") }
        case 1:
            if sum(l4) != 0xFFFF { out.append("ICMP checksum") }
        default: break
        }
        return out
    }
}
