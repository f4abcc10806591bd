import XCTest
import PacketFormats
import Pipeline
@testable import Nat44

/// A packet the gateway cannot route gets ICMP network unreachable (RFC 1812 5.2.7.1), within
/// the ICMP error rate limit; broadcasts and inside-to-inside packets stay silent.
final class NoRouteTests: XCTestCase {
    typealias F = TestFrames
    let host = F.ip("192.168.10.2"), remote = F.ip("198.51.100.7")

    func testNetworkUnreachableAtTheICMPErrorRate() throws {
        var c = try NatFixtures.config()
        c.gateway = nil
        c.icmpErrorBurst = 5
        c.icmpErrorsPerSecond = 10
        var rig = GatewayRig(c, hosts: [host])
        let dns = F.fromInside(F.ipv4(src: host, dst: remote, proto: 17, F.udp(src: host, dst: remote, sport: 40000, dport: 53)))
        let first = rig.send(dns, .inside)
        XCTAssertEqual(first.verdict, .drop(.noRoute))
        XCTAssertEqual(first.generated.count, 1)
        let (side, error) = try XCTUnwrap(first.generated.first)
        XCTAssertEqual(side, .inside)
        let p = F.packet(error)
        XCTAssertEqual(F.src(p), F.insideAddress)
        XCTAssertEqual(F.dst(p), host)
        XCTAssertEqual(Array(p[20..<22]), [3, 0], "destination unreachable, network unreachable")
        XCTAssertEqual(F.checksum(Array(p[20...])), 0, "ICMP checksum")
        XCTAssertEqual(Array(p[28..<48]), Array(F.packet(dns)[0..<20]), "quotes the packet")
        for _ in 0..<20 { rig.send(dns, .inside) }
        XCTAssertEqual(rig.gateway.counters.icmpErrorsSent, 5, "the burst")
        XCTAssertEqual(rig.gateway.counters.icmpErrorsRateLimited, 16)
        rig.now += 1_000_000_000
        for _ in 0..<20 { rig.send(dns, .inside) }
        XCTAssertEqual(rig.gateway.counters.icmpErrorsSent, 10, "refilled to the burst after a second")
        XCTAssertEqual(rig.gateway.counters.drops.noRoute, 41)
        rig.finish()
    }

    func testBroadcastAndInsideDestinationsStaySilent() throws {
        var c = try NatFixtures.config()
        c.gateway = nil
        var rig = GatewayRig(c, hosts: [host])
        for dst in [F.ip("255.255.255.255"), F.ip("239.1.2.3"), F.ip("192.168.10.3"), F.ip("203.0.113.255")] {
            let r = rig.send(F.fromInside(F.ipv4(src: host, dst: dst, proto: 17, F.udp(src: host, dst: dst, sport: 1, dport: 2))),
                             .inside)
            XCTAssertEqual(r.verdict, .drop(.noRoute))
            XCTAssertTrue(r.generated.isEmpty)
        }
        XCTAssertEqual(rig.gateway.counters.icmpErrorsSent, 0)
        rig.finish()
    }
}
