import BufferCache
import XCTest
import PacketFixtures
import PacketFormats
import Pipeline
@testable import Nat44

/// The NAT gateway against scapy-built fixtures (scripts/fixtures/make_nat_fixtures.py): every
/// step's verdict, the exact bytes of every forwarded or generated frame (scapy recomputed all
/// their checksums from scratch), an independent checksum check of each, counters where the
/// fixture states them, and no head leaked at the end.
final class NatFixtureTests: XCTestCase {
    func testUdpOutAndBack() throws { try run("udp_out_and_back") }
    func testUdpOnlinkPeer() throws { try run("udp_onlink_peer") }
    func testUdpZeroChecksum() throws { try run("udp_zero_checksum") }
    func testTcpOutAndBack() throws { try run("tcp_out_and_back") }
    func testIcmpEchoOutAndBack() throws { try run("icmp_echo_out_and_back") }
    func testPortCollision() throws { try run("port_collision") }
    func testFilteringEndpointIndependent() throws { try run("filtering_endpoint_independent") }
    func testUnsolicitedInbound() throws { try run("unsolicited_inbound") }
    func testPortForwardTcp() throws { try run("port_forward_tcp") }
    func testPortForwardUdp() throws { try run("port_forward_udp") }
    func testHairpin() throws { try run("hairpin") }
    func testEchoToGateway() throws { try run("echo_to_gateway") }
    func testTtlExceeded() throws { try run("ttl_exceeded") }
    func testFragmentationNeeded() throws { try run("fragmentation_needed") }
    func testIcmpErrorsInbound() throws { try run("icmp_errors_inbound") }
    func testIcmpErrorsOutbound() throws { try run("icmp_errors_outbound") }
    func testIcmpErrorNoRefresh() throws { try run("icmp_error_no_refresh") }
    func testFragmentsInOrder() throws { try run("fragments_in_order") }
    func testFragmentsOutOfOrder() throws { try run("fragments_out_of_order") }
    func testFragmentsOrphan() throws { try run("fragments_orphan") }
    func testArpResolution() throws { try run("arp_resolution") }
    func testArpRetryAndGiveUp() throws { try run("arp_retry_and_give_up") }
    func testArpReprobe() throws { try run("arp_reprobe") }
    func testMaxSessions() throws { try run("max_sessions") }
    func testExpiryUdp() throws { try run("expiry_udp") }
    func testExpiryTcp() throws { try run("expiry_tcp") }
    func testMalformed() throws { try run("malformed") }
    func testNoGateway() throws { try run("no_gateway") }
    func testUntaggedSides() throws { try run("untagged_sides") }

    /// Every case in the manifest has a test method above (a new fixture cannot go unrun).
    func testEveryFixtureCaseHasATest() {
        let names = Set(NatFixtures.nat.cases.map(\.name))
        let covered: Set<String> = ["arp_reprobe", "udp_out_and_back", "udp_onlink_peer", "udp_zero_checksum", "tcp_out_and_back", "icmp_echo_out_and_back", "port_collision", "filtering_endpoint_independent", "unsolicited_inbound", "port_forward_tcp", "port_forward_udp", "hairpin", "echo_to_gateway", "ttl_exceeded", "fragmentation_needed", "icmp_errors_inbound", "icmp_errors_outbound", "icmp_error_no_refresh", "fragments_in_order", "fragments_out_of_order", "fragments_orphan", "arp_resolution", "arp_retry_and_give_up", "max_sessions", "expiry_udp", "expiry_tcp", "malformed", "no_gateway", "untagged_sides"]
        XCTAssertEqual(names, covered)
    }

    /// Runs one fixture case from a fresh gateway on a fake clock.
    func run(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try XCTUnwrap(NatFixtures.nat.cases.first { $0.name == name }, "no fixture \(name)")
        let frames = try NatFixtures.frames(fixture.pcap)
        var allocator = PlainAllocator()
        var gateway = NatGateway(config: try NatFixtures.config(fixture.config))
        var checked = 0
        for (index, step) in fixture.steps.enumerated() {
            let now = 1_000_000_000 + UInt64(step.t_ms * 1_000_000)
            let at = "\(name) step \(index) (\(step.note ?? ""))"
            if step.kind == "tick" {
                gateway.tick(now: now, allocator: &allocator)
            } else {
                let side = NatFixtures.side(step.side!)
                let head = makeHead(frames[step.frame!], &allocator)
                let verdict = gateway.process(head, from: side, now: now, allocator: &allocator)
                switch step.verdict! {
                case "forward":
                    let outSide = NatFixtures.side(step.out_side!)
                    XCTAssertEqual(verdict, .forward(outSide), at, file: file, line: line)
                    if verdict == .forward(outSide) {
                        let got = head.frameBytes
                        let want = frames[step.expect!]
                        XCTAssertEqual(got, want, "\(at): \(firstDifference(got, want))", file: file, line: line)
                        XCTAssertEqual(ReferenceChecksum.problems(got), [], at, file: file, line: line)
                        checked += 1
                    }
                    if case .consumed = verdict {} else { allocator.put(head) }
                case "drop":
                    let reason = NatDropReason.allCases.first { $0.description == step.reason! }
                    XCTAssertNotNil(reason, "unknown reason \(step.reason!)")
                    XCTAssertEqual(verdict, reason.map { .drop($0) }, at, file: file, line: line)
                    if case .consumed = verdict {} else { allocator.put(head) }
                default:
                    XCTAssertEqual(verdict, .consumed, at, file: file, line: line)
                    if case .consumed = verdict {} else { allocator.put(head) }
                }
            }
            var outputs: [(Side, [UInt8])] = []
            while let (side, h) = gateway.popOutput() {
                outputs.append((side, h.frameBytes))
                allocator.put(h)
            }
            XCTAssertEqual(outputs.count, step.output.count, "\(at): output frames", file: file, line: line)
            for (k, want) in step.output.enumerated() where k < outputs.count {
                XCTAssertEqual(outputs[k].0, NatFixtures.side(want.side), "\(at): output \(k) side", file: file, line: line)
                XCTAssertEqual(outputs[k].1, frames[want.frame], "\(at): output \(k): \(firstDifference(outputs[k].1, frames[want.frame]))",
                               file: file, line: line)
                XCTAssertEqual(ReferenceChecksum.problems(outputs[k].1), [], at, file: file, line: line)
                checked += 1
            }
            if let expected = step.counters {
                let fields = Dictionary(uniqueKeysWithValues: gateway.counters.fields)
                for (key, value) in expected {
                    XCTAssertNotNil(fields[key], "\(at): no counter \(key)", file: file, line: line)
                    XCTAssertEqual(fields[key], value, "\(at): counter \(key)", file: file, line: line)
                }
            }
        }
        gateway.releaseAll(allocator: &allocator)
        XCTAssertEqual(allocator.counters.gets, allocator.counters.puts, "\(name): heads leaked", file: file, line: line)
        XCTAssertGreaterThan(fixture.steps.count, 0)
        _ = checked
    }
}
