import BufferCache
import Foundation
import XCTest
import PacketFixtures
import PacketFormats
import Pipeline
@testable import Nat44

// The NAT fixture manifest (Fixtures/nat/cases.json, written with the pcaps by
// scripts/fixtures/make_nat_fixtures.py) and the gateway configuration of each case.

enum NatFixtures {
    static func frames(_ name: String) throws -> [[UInt8]] {
        try PcapFile.frames([UInt8](Data(contentsOf: url("nat", name))))
    }

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

    static let nat: NatFile = {
        try! JSONDecoder().decode(NatFile.self, from: Data(contentsOf: url("nat", "cases.json")))
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

