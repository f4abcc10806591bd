import BufferCache
import XCTest
import PacketFixtures
import PacketFormats
import Pipeline
@testable import VlanTranslation

/// `--vlan-map` against scapy-built fixtures (push, pop, translate, stacked, unmapped, PCP/DEI
/// kept, cut headers) and its option parsing.
final class VlanMapTests: XCTestCase {
    func run(_ name: String) throws {
        let fixture = try XCTUnwrap(VlanFixtures.manifest.cases.first { $0.name == name })
        let frames = try VlanFixtures.frames(fixture.pcap)
        let map = try VlanMap(specs: fixture.specs, passUnmapped: fixture.passUnmapped)
        var allocator = PlainAllocator()
        for (i, step) in fixture.steps.enumerated() {
            let at = "\(name) step \(i) (\(step.note))"
            let head = makeHead(frames[step.frame], &allocator)
            let dataBefore = head.data + 14
            let verdict = map.translate(head, from: VlanFixtures.side(step.side))
            if step.verdict == "forward" {
                XCTAssertEqual(verdict, .forward, at)
                let want = frames[step.expect!]
                XCTAssertEqual(head.frameBytes, want, "\(at): \(firstDifference(head.frameBytes, want))")
                // The payload did not move: only the 12 address bytes (and tags) were rewritten.
                let payloadOffset = try XCTUnwrap(EthernetHeader.parse(head)).payloadOffset
                let before = try XCTUnwrap(frames[step.frame].withUnsafeBytes {
                    EthernetHeader.parse($0.baseAddress!, length: $0.count)
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
        XCTAssertEqual(Set(VlanFixtures.manifest.cases.map(\.name)), ["translate", "push_pop", "stacked", "pass_unmapped"])
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

    /// Random frames through a map: no crash, frames stay within the buffer, every head returned.
    func testFuzz() throws {
        let map = try VlanMap(specs: ["10:20", "0:30", "40:0", "100.10:50", "60:200.61"], passUnmapped: false)
        var rng = TestRNG(seed: 0x5EED_1A11)
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
            let head = makeHead(bytes, &allocator)
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
