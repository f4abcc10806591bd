import BufferCache
import Foundation
import XCTest
@testable import Forwarder

// Test support for the NAT and VLAN-map tests: a pcap reader, the fixture manifests, heads made
// from bytes, and an Internet checksum verifier written independently of the project's
// `InternetChecksum` (so a bug there cannot hide itself).

/// Reads the frames of a classic pcap file (either byte order, microsecond or nanosecond).
enum NatPcap {
    struct FormatError: Error, CustomStringConvertible { let description: String }

    static func frames(_ bytes: [UInt8]) throws -> [[UInt8]] {
        guard bytes.count >= 24 else { throw FormatError(description: "pcap shorter than its header") }
        let magicLE = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        let little: Bool
        switch magicLE {
        case 0xA1B2_C3D4, 0xA1B2_3C4D: little = true
        case 0xD4C3_B2A1, 0x4D3C_B2A1: little = false
        default: throw FormatError(description: "not a pcap file (magic \(String(magicLE, radix: 16)))")
        }
        func u32(_ o: Int) -> Int {
            let b = (0..<4).map { UInt32(bytes[o + $0]) }
            return Int(little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24)
        }
        var frames: [[UInt8]] = []
        var offset = 24
        while offset + 16 <= bytes.count {
            let caplen = u32(offset + 8)
            offset += 16
            guard offset + caplen <= bytes.count else { throw FormatError(description: "record cut short") }
            frames.append(Array(bytes[offset..<offset + caplen]))
            offset += caplen
        }
        return frames
    }

    static func frames(fixture sub: String, _ name: String) throws -> [[UInt8]] {
        try frames([UInt8](Data(contentsOf: NatFixtures.url(sub, name))))
    }
}

enum NatFixtures {
    static func url(_ sub: String, _ name: String) -> URL {
        guard let u = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/\(sub)") else {
            fatalError("fixture Fixtures/\(sub)/\(name) missing: run /usr/bin/python3 scripts/fixtures/make_nat_fixtures.py")
        }
        return u
    }

    struct NatFile: Decodable {
        let base: BaseConfig
        let cases: [NatCase]
    }

    struct BaseConfig: Decodable {
        let inside: String, outside: String
        let insideVLAN: UInt16?, outsideVLAN: UInt16?
        let gateway: String?
        let insideMAC: String, outsideMAC: String
        let insideMTU: Int, outsideMTU: Int
        let forwards: [String]
    }

    /// Per-case overrides; a key present with null (gateway, VLANs) means "none".
    struct Overrides: Decodable {
        var gateway: String??
        var insideVLAN: UInt16??
        var outsideVLAN: UInt16??
        var maxSessions: Int?
        var timeoutUDP: UInt64?
        var neighbourReachableSeconds: UInt64?

        enum Keys: String, CodingKey {
            case gateway, insideVLAN, outsideVLAN, maxSessions, timeoutUDP, neighbourReachableSeconds
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            if c.contains(.gateway) { gateway = .some(try c.decodeIfPresent(String.self, forKey: .gateway)) }
            if c.contains(.insideVLAN) { insideVLAN = .some(try c.decodeIfPresent(UInt16.self, forKey: .insideVLAN)) }
            if c.contains(.outsideVLAN) { outsideVLAN = .some(try c.decodeIfPresent(UInt16.self, forKey: .outsideVLAN)) }
            maxSessions = try c.decodeIfPresent(Int.self, forKey: .maxSessions)
            timeoutUDP = try c.decodeIfPresent(UInt64.self, forKey: .timeoutUDP)
            neighbourReachableSeconds = try c.decodeIfPresent(UInt64.self, forKey: .neighbourReachableSeconds)
        }
    }

    struct Output: Decodable { let side: String; let frame: Int }

    struct Step: Decodable {
        let kind: String
        let t_ms: Double
        let side: String?
        let frame: Int?
        let verdict: String?
        let expect: Int?
        let out_side: String?
        let reason: String?
        let output: [Output]
        let counters: [String: UInt64]?
        let note: String?
    }

    struct NatCase: Decodable {
        let name: String
        let doc: String
        let config: Overrides
        let pcap: String
        let steps: [Step]
    }

    struct VlanFile: Decodable { let cases: [VlanCase] }

    struct VlanStep: Decodable {
        let side: String
        let frame: Int
        let verdict: String
        let expect: Int?
        let reason: String?
        let note: String
    }

    struct VlanCase: Decodable {
        let name: String
        let doc: String
        let specs: [String]
        let passUnmapped: Bool
        let pcap: String
        let steps: [VlanStep]
    }

    static let nat: NatFile = {
        try! JSONDecoder().decode(NatFile.self, from: Data(contentsOf: url("nat", "cases.json")))
    }()

    static let vlan: VlanFile = {
        try! JSONDecoder().decode(VlanFile.self, from: Data(contentsOf: url("vlan", "cases.json")))
    }()

    static func side(_ s: String) -> Side { s == "in" ? .inside : .outside }

    /// The gateway configuration of a case: the manifest's base plus the case's overrides.
    static func config(_ overrides: Overrides? = nil) throws -> NatConfig {
        let b = nat.base
        var c = NatConfig(inside: try NatConfig.parseCIDR(b.inside), outside: try NatConfig.parseCIDR(b.outside),
                          insideMAC: EthernetAddress(b.insideMAC)!, outsideMAC: EthernetAddress(b.outsideMAC)!)
        c.insideVLAN = b.insideVLAN
        c.outsideVLAN = b.outsideVLAN
        c.gateway = try b.gateway.map { try NatConfig.parseIPv4($0, option: "--gateway") }
        c.insideMTU = b.insideMTU
        c.outsideMTU = b.outsideMTU
        c.forwards = try b.forwards.map { try NatConfig.parseForward($0) }
        if let o = overrides {
            if let g = o.gateway { c.gateway = try g.map { try NatConfig.parseIPv4($0, option: "--gateway") } }
            if let v = o.insideVLAN { c.insideVLAN = v }
            if let v = o.outsideVLAN { c.outsideVLAN = v }
            if let m = o.maxSessions { c.maxSessions = m }
            if let t = o.timeoutUDP { c.timeouts.udp = t }
            if let r = o.neighbourReachableSeconds { c.neighbourReachableSeconds = r }
        }
        try c.validate()
        return c
    }
}

extension PacketHead {
    /// The frame's bytes.
    var frameBytes: [UInt8] { Array(UnsafeRawBufferPointer(start: data, count: length)) }
}

/// A head holding `bytes` (with the allocator's headroom in front).
func natMakeHead<A: HeadAllocator & ~Copyable>(_ bytes: [UInt8], _ allocator: inout A) -> PacketHead {
    let h = allocator.get()!
    h.length = bytes.count
    bytes.withUnsafeBytes { h.data.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    return h
}

func natHex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

/// Where two frames first differ, for failure messages.
func natDiff(_ got: [UInt8], _ want: [UInt8]) -> String {
    var i = 0
    while i < min(got.count, want.count) && got[i] == want[i] { i += 1 }
    return "lengths \(got.count)/\(want.count), first difference at byte \(i)\n got: \(natHex(got))\nwant: \(natHex(want))"
}

/// An independent Internet checksum verifier: the one's-complement sum, byte pair by byte pair.
enum NatReferenceChecksum {
    static func sum(_ b: ArraySlice<UInt8>) -> UInt32 {
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
    static func problems(_ f: [UInt8]) -> [String] {
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
