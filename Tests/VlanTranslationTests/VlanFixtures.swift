import Foundation
import PacketFixtures
import Pipeline

/// The VLAN fixture manifest (Fixtures/vlan/cases.json, written with the pcaps by
/// scripts/fixtures/make_nat_fixtures.py).
enum VlanFixtures {
    static func url(_ name: String) -> URL {
        guard let u = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/vlan") else {
            fatalError("fixture Fixtures/vlan/\(name) missing: run /usr/bin/python3 scripts/fixtures/make_nat_fixtures.py")
        }
        return u
    }

    static func frames(_ name: String) throws -> [[UInt8]] {
        try PcapFile.frames([UInt8](Data(contentsOf: url(name))))
    }

    static func side(_ s: String) -> Side { s == "in" ? .inside : .outside }

    struct File: Decodable { let cases: [Case] }

    struct Step: Decodable {
        let side: String
        let frame: Int
        let verdict: String
        let expect: Int?
        let reason: String?
        let note: String
    }

    struct Case: Decodable {
        let name: String
        let doc: String
        let specs: [String]
        let passUnmapped: Bool
        let pcap: String
        let steps: [Step]
    }

    static let manifest: File = {
        try! JSONDecoder().decode(File.self, from: Data(contentsOf: url("cases.json")))
    }()

}
