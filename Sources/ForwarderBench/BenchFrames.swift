import PacketFormats

/// Frames for `forwarder-bench pipeline`: valid Ethernet (0–2 VLAN tags) / IPv4 / UDP with correct
/// IPv4 header and UDP checksums, and ARP requests; plus a parser that checks what came out.
/// Built and checked outside the timed loop only.
enum BenchFrames {
    struct Tag: Equatable {
        var tpid: UInt16
        var tci: UInt16
    }

    struct UDP {
        var dstMAC: UInt64
        var srcMAC: UInt64
        var tags: [Tag] = []
        var src: UInt32
        var dst: UInt32
        var sport: UInt16
        var dport: UInt16
        var ttl: UInt8 = 64
        var ipID: UInt16 = 0
        /// The first 4 payload bytes: which flow the frame belongs to (the NAT leaves the payload alone).
        var marker: UInt32 = 0
        /// Bytes on the wire without the FCS.
        var length: Int
    }

    /// Ethernet header bytes for `tags` tags.
    static func l2Length(tags: Int) -> Int { 14 + 4 * tags }

    /// The smallest frame `udp` can build with `tags` tags (IPv4 + UDP + the 4-byte marker).
    static func minimumLength(tags: Int) -> Int { l2Length(tags: tags) + 20 + 8 + 4 }

    static func udp(_ f: UDP) -> [UInt8] {
        let l2 = l2Length(tags: f.tags.count)
        precondition(f.length >= minimumLength(tags: f.tags.count) && f.length - l2 <= 0xFFFF, "frame length \(f.length)")
        var bytes = [UInt8](repeating: 0, count: f.length)
        bytes.withUnsafeMutableBytes { buffer in
            let p = buffer.baseAddress!
            p.writeMAC(f.dstMAC, 0)
            p.writeMAC(f.srcMAC, 6)
            var at = 12
            for t in f.tags {
                p.writeBE16(t.tpid, at)
                p.writeBE16(t.tci, at + 2)
                at += 4
            }
            p.writeBE16(EtherType.ipv4, at)
            let ip = p + l2
            let total = f.length - l2
            ip.writeU8(0x45, 0)
            ip.writeU8(0, 1)
            ip.writeBE16(UInt16(total), 2)
            ip.writeBE16(f.ipID, 4)
            ip.writeBE16(0x4000, 6)            // DF, not a fragment
            ip.writeU8(f.ttl, 8)
            ip.writeU8(17, 9)
            ip.writeBE16(0, 10)
            ip.writeBE32(f.src, 12)
            ip.writeBE32(f.dst, 16)
            ip.writeBE16(InternetChecksum.compute(ip, count: 20), 10)
            let udp = ip + 20
            let udpLength = total - 20
            udp.writeBE16(f.sport, 0)
            udp.writeBE16(f.dport, 2)
            udp.writeBE16(UInt16(udpLength), 4)
            udp.writeBE16(0, 6)
            udp.writeBE32(f.marker, 8)
            for i in 12..<udpLength { udp.writeU8(UInt8(truncatingIfNeeded: i), i) }
            let c = InternetChecksum.compute(udp, count: udpLength, initial: pseudoHeader(f.src, f.dst, udpLength))
            udp.writeBE16(c == 0 ? 0xFFFF : c, 6)
        }
        return bytes
    }

    /// The UDP pseudo-header sum (RFC 768): addresses, protocol, UDP length.
    static func pseudoHeader(_ src: UInt32, _ dst: UInt32, _ udpLength: Int) -> UInt32 {
        (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + 17 + UInt32(udpLength)
    }

    /// A who-has `target` from `senderIP`/`senderMAC`, broadcast, padded to the 60-byte minimum.
    static func arpRequest(senderMAC: UInt64, senderIP: UInt32, target: UInt32, tags: [Tag]) -> [UInt8] {
        let l2 = l2Length(tags: tags.count)
        var bytes = [UInt8](repeating: 0, count: max(60, l2 + 28))
        bytes.withUnsafeMutableBytes { buffer in
            let p = buffer.baseAddress!
            p.writeMAC(0xFFFF_FFFF_FFFF, 0)
            p.writeMAC(senderMAC, 6)
            var at = 12
            for t in tags {
                p.writeBE16(t.tpid, at)
                p.writeBE16(t.tci, at + 2)
                at += 4
            }
            p.writeBE16(EtherType.arp, at)
            let a = p + l2
            a.writeBE16(1, 0)                  // Ethernet
            a.writeBE16(EtherType.ipv4, 2)
            a.writeU8(6, 4)
            a.writeU8(4, 5)
            a.writeBE16(1, 6)                  // request
            a.writeMAC(senderMAC, 8)
            a.writeBE32(senderIP, 14)
            a.writeMAC(0, 18)
            a.writeBE32(target, 24)
        }
        return bytes
    }

    /// What a UDP frame that came out says, with its checksums verified.
    struct ParsedUDP {
        var dstMAC: UInt64
        var srcMAC: UInt64
        var tags: [Tag]
        var src: UInt32
        var dst: UInt32
        var sport: UInt16
        var dport: UInt16
        var ttl: UInt8
        var marker: UInt32
        var ipChecksumOK: Bool
        var udpChecksumOK: Bool
        /// The bytes after the UDP header (marker included).
        var payload: ArraySlice<UInt8>
    }

    /// Parses an Ethernet/IPv4/UDP frame (0–2 tags); nil if it is anything else or cut short.
    static func parseUDP(_ bytes: [UInt8]) -> ParsedUDP? {
        bytes.withUnsafeBytes { buffer -> ParsedUDP? in
            guard let p = buffer.baseAddress,
                  let eth = EthernetHeader.parse(p, length: bytes.count), eth.etherType == EtherType.ipv4 else { return nil }
            var tags: [Tag] = []
            if eth.tagCount >= 1 { tags.append(Tag(tpid: eth.outerTPID, tci: eth.outerTCI)) }
            if eth.tagCount >= 2 { tags.append(Tag(tpid: eth.innerTPID, tci: eth.innerTCI)) }
            let l2 = eth.payloadOffset
            guard bytes.count >= l2 + 28 + 4 else { return nil }
            let ip = p + l2
            guard ip.readU8(0) == 0x45, ip.readU8(9) == 17 else { return nil }
            let total = Int(ip.readBE16(2))
            guard total >= 32, l2 + total <= bytes.count else { return nil }
            let udp = ip + 20
            let udpLength = Int(udp.readBE16(4))
            guard udpLength == total - 20 else { return nil }
            let src = ip.readBE32(12), dst = ip.readBE32(16)
            return ParsedUDP(
                dstMAC: p.readMAC(0), srcMAC: p.readMAC(6), tags: tags, src: src, dst: dst,
                sport: udp.readBE16(0), dport: udp.readBE16(2), ttl: ip.readU8(8), marker: udp.readBE32(8),
                ipChecksumOK: InternetChecksum.verify(ip, count: 20),
                udpChecksumOK: InternetChecksum.verify(udp, count: udpLength, initial: pseudoHeader(src, dst, udpLength)),
                payload: bytes[(l2 + 28)..<(l2 + total)])
        }
    }
}

extension UnsafeRawPointer {
    func readMAC(_ offset: Int) -> UInt64 {
        UInt64(readBE16(offset)) << 32 | UInt64(readBE32(offset + 2))
    }
}
