import XCTest
import PacketFormats
import Pipeline
@testable import Nat44

/// `--nat-log`'s events as the gateway records them: a removed mapping says why (timeout, or
/// FIN/RST for TCP that ended, flush), with the time it ended; nothing is recorded without a lane.
final class NatEventTests: XCTestCase {
    private func drain(_ lane: NatEventLane) -> [NatEvent] {
        let out = UnsafeMutablePointer<NatEvent>.allocate(capacity: 64)
        defer { out.deallocate() }
        let n = lane.drain(into: out, count: 64)
        return (0..<n).map { out[$0] }
    }

    func testRemovalsSayWhy() throws {
        var c = try NatFixtures.config()
        c.maxSessions = 16
        var p = NatProcessor(config: c)
        let lane = NatEventLane(capacity: 64)
        p.logEvents(to: lane)
        let host = IPv4Address("192.168.10.2")!.value
        for (port, state, expires) in [(UInt16(1), NatTCPState.closing, UInt64(10)), (2, .closed, 20), (3, .established, 30)] {
            _ = p.gateway.sessions.insert(NatSession(inAddr: host, inPort: port, extPort: 40000 + port, proto: .tcp,
                                                     tcpState: state, isForward: false, expires: expires), now: 0)
        }
        _ = p.gateway.sessions.insert(NatSession(inAddr: host, inPort: 9, extPort: 40009, proto: .udp, tcpState: .none,
                                                 isForward: false, expires: 1000), now: 0)
        p.gateway.expireSessions(now: 100, budget: 16)
        let expired = drain(lane).sorted { $0.insidePort < $1.insidePort }
        XCTAssertEqual(expired.map(\.reason), [.fin, .rst, .timeout])
        XCTAssertEqual(expired.map(\.time), [10, 20, 30], "a timed-out mapping ended at its expiry")
        XCTAssertTrue(expired.allSatisfy { $0.kind == .removed && $0.outsideAddress == c.outside.address.value })
        XCTAssertEqual(expired.map(\.outsidePort), [40001, 40002, 40003])
        XCTAssertEqual(p.removeSessions(matching: NatSessionFilter(proto: .udp)), 1)
        let flushed = drain(lane)
        XCTAssertEqual(flushed.count, 1)
        XCTAssertEqual(flushed.first?.reason, .flush)
        XCTAssertEqual(flushed.first?.insidePort, 9)
    }

    func testNothingIsRecordedWithoutALane() throws {
        var p = NatProcessor(config: try NatFixtures.config())
        _ = p.gateway.sessions.insert(NatSession(inAddr: 1, inPort: 1, extPort: 40001, proto: .udp, tcpState: .none,
                                                 isForward: false, expires: 1), now: 0)
        p.gateway.expireSessions(now: 100, budget: 16)
        XCTAssertEqual(p.gateway.sessions.active, 0)
        XCTAssertNil(p.gateway.events.lane)
    }
}
