import XCTest
import PacketFormats
import Pipeline
@testable import Nat44

/// What the control socket asks of a worker's gateway: listing in bounded chunks, removal that
/// keeps the counters and the port pool right, the neighbours.
final class NatControlTests: XCTestCase {
    private func processor() throws -> NatProcessor {
        var c = try NatFixtures.config()
        c.maxSessions = 64
        return NatProcessor(config: c)
    }

    private func add(_ p: inout NatProcessor, _ proto: NatProtocol, _ host: UInt32, _ port: UInt16, ext: UInt16, expires: UInt64) {
        _ = p.gateway.sessions.insert(NatSession(inAddr: host, inPort: port, extPort: ext, proto: proto,
                                                 tcpState: proto == .tcp ? .established : .none, isForward: false, expires: expires), now: 0)
        p.gateway.counters[proto].created &+= 1
        p.gateway.counters[proto].active &+= 1
    }

    func testSessionsAreListedInChunksAndFiltered() throws {
        var p = try processor()
        let a = IPv4Address("192.168.10.2")!.value, b = IPv4Address("192.168.10.3")!.value
        for i in 0..<10 { add(&p, .udp, a, UInt16(5000 + i), ext: UInt16(40000 + i), expires: 1_000) }
        for i in 0..<4 { add(&p, .tcp, b, UInt16(6000 + i), ext: UInt16(41000 + i), expires: 1_000) }
        add(&p, .udp, b, 7000, ext: 42000, expires: 10)  // expired at now = 100: not listed
        var all: [NatSessionRecord] = []
        var slot: Int? = 0
        var chunks = 0
        while let s = slot {
            let (records, next) = p.sessions(from: s, limit: 3, matching: NatSessionFilter(), now: 100)
            XCTAssertLessThanOrEqual(records.count, 3)
            all += records
            slot = next
            chunks += 1
        }
        XCTAssertEqual(all.count, 14)
        XCTAssertGreaterThanOrEqual(chunks, 5)
        XCTAssertEqual(Set(all.map(\.outsidePort)).count, 14)
        let tcp = try XCTUnwrap(all.first { $0.proto == .tcp })
        XCTAssertEqual(tcp.tcpState, "established")
        XCTAssertEqual(tcp.expiresIn, 900)
        XCTAssertEqual(tcp.outsideAddress, try NatFixtures.config().outside.address)
        XCTAssertNil(all.first { $0.proto == .udp }?.tcpState)

        let onlyB = p.sessions(from: 0, limit: 100, matching: NatSessionFilter(inside: .init(address: IPv4Address(b))), now: 100)
        XCTAssertEqual(onlyB.records.count, 4)
        XCTAssertNil(onlyB.next)
        let onePort = p.sessions(from: 0, limit: 100, matching: NatSessionFilter(outsidePort: 40003, proto: .udp), now: 100)
        XCTAssertEqual(onePort.records.map(\.insidePort), [5003])
        let wrongProto = p.sessions(from: 0, limit: 100, matching: NatSessionFilter(outsidePort: 40003, proto: .tcp), now: 100)
        XCTAssertEqual(wrongProto.records.count, 0)
    }

    func testRemovalFreesPortsAndCounts() throws {
        var p = try processor()
        let a = IPv4Address("192.168.10.2")!.value, b = IPv4Address("192.168.10.3")!.value
        for i in 0..<5 { add(&p, .udp, a, UInt16(5000 + i), ext: UInt16(40000 + i), expires: 1_000) }
        for i in 0..<3 { add(&p, .udp, b, UInt16(5000 + i), ext: UInt16(45000 + i), expires: 1_000) }
        XCTAssertEqual(p.removeSessions(matching: NatSessionFilter(inside: .init(address: IPv4Address(a)))), 5)
        XCTAssertEqual(p.gateway.counters.udp.active, 3)
        XCTAssertEqual(p.gateway.counters.udp.flushed, 5)
        XCTAssertFalse(p.gateway.sessions.ports.isUsed(.udp, 40002), "a removed mapping's port is free again")
        XCTAssertNil(p.gateway.sessions.find(SessionKey(proto: .udp, address: a, port: 5002)))
        XCTAssertNotNil(p.gateway.sessions.find(SessionKey(proto: .udp, address: b, port: 5002)))
        XCTAssertEqual(p.removeSessions(matching: NatSessionFilter()), 3)
        XCTAssertEqual(p.gateway.sessions.active, 0)
        XCTAssertEqual(p.gateway.counters.udp.flushed, 8)
    }

    func testNeighboursAreListed() throws {
        var p = try processor()
        let ip = IPv4Address("203.0.113.254")!.value
        let i = try XCTUnwrap(p.gateway.neighbours.insert(.outside, ip, state: .reachable, now: 50))
        p.gateway.neighbours[i].mac = EthernetAddress("02:00:00:00:00:fe")!.value
        p.gateway.neighbours[i].confirmed = 50
        _ = p.gateway.neighbours.insert(.inside, IPv4Address("192.168.10.9")!.value, state: .incomplete, now: 60)
        let records = p.neighbourRecords(now: 100).sorted { $0.address < $1.address }
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0], NatNeighbourRecord(address: IPv4Address("192.168.10.9")!, mac: nil, side: .inside,
                                                      state: "incomplete", confirmedAgo: nil))
        XCTAssertEqual(records[1], NatNeighbourRecord(address: IPv4Address(ip), mac: EthernetAddress("02:00:00:00:00:fe"),
                                                      side: .outside, state: "reachable", confirmedAgo: 50))
    }
}
