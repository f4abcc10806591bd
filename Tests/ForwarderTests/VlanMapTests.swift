import BufferCache
import XCTest
@testable import Forwarder

/// `--vlan-map` against scapy-built fixtures (push, pop, translate, stacked, unmapped, PCP/DEI
/// kept, cut headers) and its option parsing.
final class VlanMapTests: XCTestCase {
    func run(_ name: String) throws {
        let fixture = try XCTUnwrap(NatFixtures.vlan.cases.first { $0.name == name })
        let frames = try NatPcap.frames(fixture: "vlan", fixture.pcap)
        let map = try VlanMap(specs: fixture.specs, passUnmapped: fixture.passUnmapped)
        var allocator = PlainAllocator()
        for (i, step) in fixture.steps.enumerated() {
            let at = "\(name) step \(i) (\(step.note))"
            let head = natMakeHead(frames[step.frame], &allocator)
            let dataBefore = head.data + 14
            let verdict = map.translate(head, from: NatFixtures.side(step.side))
            if step.verdict == "forward" {
                XCTAssertEqual(verdict, .forward, at)
                let want = frames[step.expect!]
                XCTAssertEqual(head.frameBytes, want, "\(at): \(natDiff(head.frameBytes, want))")
                // The payload did not move: only the 12 address bytes (and tags) were rewritten.
                let payloadOffset = try XCTUnwrap(EthernetFrame.parse(head)).payloadOffset
                let before = try XCTUnwrap(frames[step.frame].withUnsafeBytes {
                    EthernetFrame.parse($0.baseAddress!, length: $0.count)
                }).payloadOffset
                XCTAssertEqual(head.data + payloadOffset, dataBefore - 14 + before, "\(at): payload moved")
            } else {
                XCTAssertEqual(verdict, .drop(VlanDropReason(rawValue: step.reason!)!), at)
            }
            allocator.put(head)
        }
        XCTAssertEqual(allocator.counters.gets, allocator.counters.puts)
    }

    func testTranslate() throws { try run("translate") }
    func testPushPop() throws { try run("push_pop") }
    func testStacked() throws { try run("stacked") }
    func testPassUnmapped() throws { try run("pass_unmapped") }

    func testEveryFixtureCaseHasATest() {
        XCTAssertEqual(Set(NatFixtures.vlan.cases.map(\.name)), ["translate", "push_pop", "stacked", "pass_unmapped"])
    }

    func testSpecErrors() {
        func message(_ specs: [String]) -> String? {
            do {
                _ = try VlanMap(specs: specs, passUnmapped: false)
                return nil
            } catch {
                return error.message
            }
        }
        XCTAssertNil(message(["10:20", "0:30", "100.10:20.5"]))
        XCTAssertEqual(message(["10:4095"]),
                       "--vlan-map 10:4095: '4095' is not a VLAN id; VIDs are 1-4094 (0 alone means untagged)")
        XCTAssertEqual(message(["10"])?.contains("expected IN:OUT"), true)
        XCTAssertEqual(message(["10:"])?.contains("expected IN:OUT"), true)
        XCTAssertEqual(message(["a:20"])?.contains("'a' is not a VLAN id"), true)
        XCTAssertEqual(message(["1.2.3:4"])?.contains("at most two stacked tags"), true)
        XCTAssertEqual(message(["0.5:4"])?.contains("'0' is not a VLAN id"), true)
        XCTAssertEqual(message(["10:20", "10:30"]), "--vlan-map 10:30: VLAN 10 on IN is already mapped by 10:20")
        XCTAssertEqual(message(["10:20", "11:20"]), "--vlan-map 11:20: VLAN 20 on OUT is already mapped by 10:20")
        XCTAssertEqual(message(["-1:20"])?.contains("is not a VLAN id"), true)
    }

    func testEthernetFrameParser() throws {
        // Dst, src, 802.1ad 100 (PCP 3), 802.1Q 10, IPv4.
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xA8, 0x60, 100, 0x81, 0x00, 0x00, 10, 0x08, 0x00, 0x45]
        let f = try XCTUnwrap(bytes.withUnsafeBytes { EthernetFrame.parse($0.baseAddress!, length: $0.count) })
        XCTAssertEqual(f.tagCount, 2)
        XCTAssertEqual(f.outerTPID, 0x88A8)
        XCTAssertEqual(EthernetFrame.vid(f.outerTCI), 100)
        XCTAssertEqual(f.outerTCI >> 13, 3)
        XCTAssertEqual(EthernetFrame.vid(f.innerTCI), 10)
        XCTAssertEqual(f.etherType, 0x0800)
        XCTAssertEqual(f.payloadOffset, 22)
        XCTAssertEqual(bytes.withUnsafeBytes { EthernetFrame.destination($0.baseAddress!) }, 0x0102_0304_0506)
        XCTAssertEqual(bytes.withUnsafeBytes { EthernetFrame.source($0.baseAddress!) }, 0x0708_090A_0B0C)
        for cut in 0..<22 {
            let r = bytes.withUnsafeBytes { EthernetFrame.parse($0.baseAddress!, length: cut) }
            XCTAssertNil(r, "length \(cut)")
        }
    }

    /// Random frames through a map: no crash, frames stay within the buffer, every head returned.
    func testFuzz() throws {
        let map = try VlanMap(specs: ["10:20", "0:30", "40:0", "100.10:50", "60:200.61"], passUnmapped: false)
        var rng = NatTestRNG(seed: 0x5EED_1A11)
        var allocator = PlainAllocator()
        var forwarded = 0
        for _ in 0..<4000 {
            var bytes = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if bytes.count > 16 && rng.next() % 2 == 0 {
                let tpids: [UInt16] = [0x8100, 0x88A8, 0x9100, 0x0800]
                let t = tpids[Int(rng.next() % 4)]
                bytes[12] = UInt8(t >> 8); bytes[13] = UInt8(t & 0xFF)
                bytes[15] = [10, 20, 30, 40, 100, 60, 50][Int(rng.next() % 7)]
                bytes[14] &= 0xF0
            }
            let head = natMakeHead(bytes, &allocator)
            let verdict = map.translate(head, from: rng.next() % 2 == 0 ? .inside : .outside)
            if verdict == .forward {
                forwarded += 1
                XCTAssertGreaterThanOrEqual(head.length, 14)
                XCTAssertLessThanOrEqual(head.length, bytes.count + 8)
            }
            allocator.put(head)
        }
        XCTAssertGreaterThan(forwarded, 0)
        XCTAssertEqual(allocator.counters.gets, allocator.counters.puts)
    }
}

/// SplitMix64: a seeded generator so fuzz runs are reproducible.
struct NatTestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
