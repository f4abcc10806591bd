import BufferCache
import CMallocCounter
import PacketFixtures
import PacketFormats
import Pipeline
import XCTest
@testable import Nat44

/// The per-host limits: a host over `--max-sessions-per-host` or `--new-sessions-per-host` gets
/// no new session (an ICMP administratively prohibited or a RST instead), other hosts and its own
/// existing sessions are untouched, and the per-host table stays bounded.
final class HostQuotaTests: XCTestCase {
    typealias F = TestFrames
    let host = F.ip("192.168.10.2"), other = F.ip("192.168.10.3"), remote = F.ip("198.51.100.7")

    func udpOut(_ src: UInt32, sport: UInt16) -> [UInt8] {
        F.fromInside(F.ipv4(src: src, dst: remote, proto: 17, F.udp(src: src, dst: remote, sport: sport, dport: 53)))
    }

    func testAHostGetsItsLimitAndTheNextFlowAnICMPError() throws {
        var c = try NatFixtures.config()
        c.maxSessionsPerHost = 10
        var rig = GatewayRig(c, hosts: [host, other])
        var forwarded = 0, refused: [[UInt8]] = []
        for i in 0..<50 {
            let r = rig.send(udpOut(host, sport: UInt16(20000 + 2 * i)), .inside)
            if case .forward = r.verdict { forwarded += 1 } else {
                XCTAssertEqual(r.verdict, .drop(.hostQuota))
                refused += r.generated.map(\.1)
            }
        }
        XCTAssertEqual(forwarded, 10)
        XCTAssertEqual(refused.count, 40, "an ICMP error per refused flow (within the rate limit)")
        let p = F.packet(refused[0])
        XCTAssertEqual(Array(p[20..<22]), [3, 13], "administratively prohibited")
        XCTAssertEqual(F.dst(p), host)
        XCTAssertEqual(F.checksum(Array(p[20...])), 0)
        for i in 0..<8 {
            guard case .forward = rig.send(udpOut(other, sport: UInt16(30000 + 2 * i)), .inside).verdict else {
                return XCTFail("the other host's flow \(i) was refused")
            }
        }
        guard case .forward = rig.send(udpOut(host, sport: 20000), .inside).verdict else {
            return XCTFail("an existing session of the host at its limit was refused")
        }
        XCTAssertEqual(rig.gateway.externalPort(proto: .udp, insideAddress: IPv4Address(host), insidePort: 20002), 20002,
                       "ports are still preserved")
        XCTAssertEqual(rig.gateway.counters.drops.hostQuota, 40)
        XCTAssertEqual(rig.gateway.sessions.hosts.sessions(of: host), 10)
        XCTAssertEqual(rig.gateway.sessions.hosts.sessions(of: other), 8)
        // Once the sessions expire, the host may open new ones, and the table forgets it.
        rig.now += 400 * 1_000_000_000
        for _ in 0..<512 { rig.gateway.tick(now: rig.now, allocator: &rig.allocator) }
        XCTAssertEqual(rig.gateway.sessions.hosts.count, 0)
        guard case .forward = rig.send(udpOut(host, sport: 21000), .inside).verdict else {
            return XCTFail("refused after its sessions expired")
        }
        rig.finish()
    }

    func testASYNOverTheLimitGetsAReset() throws {
        var c = try NatFixtures.config()
        c.maxSessionsPerHost = 1
        var rig = GatewayRig(c, hosts: [host])
        rig.send(udpOut(host, sport: 20000), .inside)
        let syn = F.fromInside(F.ipv4(src: host, dst: remote, proto: 6,
                                      F.tcp(src: host, dst: remote, sport: 40000, dport: 443, flags: 0x02)))
        let r = rig.send(syn, .inside)
        XCTAssertEqual(r.verdict, .drop(.hostQuota))
        let (side, frame) = try XCTUnwrap(r.generated.first)
        XCTAssertEqual(side, .inside)
        let p = F.packet(frame)
        XCTAssertEqual(p[9], 6)
        XCTAssertEqual(F.src(p), remote, "as from the destination")
        XCTAssertEqual(F.dst(p), host)
        XCTAssertEqual(F.sport(p), 443)
        XCTAssertEqual(F.dport(p), 40000)
        XCTAssertEqual(p[20 + 13], 0x14, "RST+ACK")
        XCTAssertEqual(F.word(p, 20 + 8), 1001, "acknowledges the SYN (seq 1000)")
        XCTAssertTrue(F.transportChecksumOK(p))
        XCTAssertEqual(F.checksum(Array(p[0..<20])), 0)
        XCTAssertEqual(rig.gateway.counters.resetsSent, 1)
        // A non-SYN segment of no session gets nothing back.
        let ack = F.fromInside(F.ipv4(src: host, dst: remote, proto: 6,
                                      F.tcp(src: host, dst: remote, sport: 40002, dport: 443, flags: 0x10)))
        XCTAssertTrue(rig.send(ack, .inside).generated.isEmpty)
        rig.finish()
    }

    func testNewSessionsPerSecond() throws {
        var c = try NatFixtures.config()
        c.newSessionsPerHost = 5
        var rig = GatewayRig(c, hosts: [host])
        func burst(_ base: Int) -> Int {
            (0..<10).filter { i in
                if case .forward = rig.send(udpOut(host, sport: UInt16(base + 2 * i)), .inside).verdict { return true }
                return false
            }.count
        }
        XCTAssertEqual(burst(20000), 5, "a second's worth")
        rig.now += 400_000_000
        XCTAssertEqual(burst(21000), 2, "2 tokens in 0.4 s")
        rig.now += 2_000_000_000
        XCTAssertEqual(burst(22000), 5, "refilled to the bucket's size, no more")
        XCTAssertEqual(rig.gateway.counters.drops.hostQuota, 18)
        rig.finish()
    }

    /// A flood from every address of a /16 inside: the per-host table never grows beyond the
    /// session table, and empties when the sessions expire.
    func testTheHostTableIsBoundedUnderASourceFlood() throws {
        var c = try NatFixtures.config()
        c.inside = try NatConfig.parseCIDR("192.168.10.1/16")
        c.forwards = []
        c.maxSessions = 256
        c.maxSessionsPerHost = 4
        c.icmpErrorBurst = 0
        try c.validate()
        var rig = GatewayRig(c, hosts: [])
        XCTAssertEqual(rig.gateway.sessions.hosts.capacity, 256)
        var tableFull = 0
        for i in 0..<5000 {
            let src = F.ip("192.168.20.0") + UInt32(2 + i)   // not the gateway's 192.168.10.1
            let r = rig.send(F.ethernet(vlan: F.insideVLAN, src: 0x0200_0000_1000, dst: F.insideGatewayMAC, etherType: 0x0800,
                                        F.ipv4(src: src, dst: remote, proto: 17, F.udp(src: src, dst: remote, sport: 5000, dport: 53))),
                             .inside)
            if r.verdict == .drop(.tableFull) { tableFull += 1 }
            XCTAssertLessThanOrEqual(rig.gateway.sessions.hosts.count, 256)
        }
        XCTAssertEqual(tableFull, 5000 - 256)
        XCTAssertEqual(rig.gateway.sessions.hosts.count, 256)
        rig.now += 400 * 1_000_000_000
        for _ in 0..<4 { rig.gateway.tick(now: rig.now, allocator: &rig.allocator) }
        XCTAssertEqual(rig.gateway.sessions.hosts.count, 0)
        rig.finish()
    }

    /// Admitting, refusing (the ICMP error rate limited away: no head taken) and translating
    /// allocate nothing.
    func testNoAllocationWithLimitsOn() throws {
        var c = try NatFixtures.config()
        c.maxSessionsPerHost = 8
        c.newSessionsPerHost = 1000
        c.icmpErrorBurst = 0
        var rig = GatewayRig(c, hosts: [host])
        let frameList = (0..<9).map { udpOut(host, sport: UInt16(20000 + 2 * $0)) }
        let head = try XCTUnwrap(rig.allocator.get())
        var allocations: UInt64 = 0
        var forwarded = 0
        for pass in 0..<1001 {
            let before = cmc_thread_allocations()
            for i in 0..<frameList.count {
                let n = frameList[i].count
                head.reset(headroom: 64, owner: 0)
                head.length = n
                frameList[i].withUnsafeBytes { head.data.copyMemory(from: $0.baseAddress!, byteCount: n) }
                if rig.replay(head, from: .inside) { forwarded += 1 }
            }
            if pass > 0 { allocations += cmc_thread_allocations() - before }
        }
        XCTAssertEqual(allocations, 0, "allocations with the per-host limits on")
        XCTAssertEqual(forwarded, 8 * 1001)
        XCTAssertEqual(rig.gateway.counters.drops.hostQuota, 1001)
        rig.allocator.put(head)
        rig.finish()
    }

    func testTheOptionsAreParsedAndChecked() throws {
        XCTAssertEqual(try NatConfig.parseSessionRate("20/s"), 20)
        XCTAssertEqual(try NatConfig.parseSessionRate("20"), 20)
        XCTAssertThrowsError(try NatConfig.parseSessionRate("0/s"))
        XCTAssertThrowsError(try NatConfig.parseSessionRate("20/m")) { e in
            XCTAssertEqual((e as? NatConfigError)?.message,
                           "--new-sessions-per-host 20/m: expected new sessions per second, 1/s to 1000000/s, e.g. 20/s")
        }
        XCTAssertThrowsError(try NatConfig.parseMaxSessionsPerHost("0"))
        var o = NatOptions()
        for (flag, value) in [("--inside", "192.168.10.1/24"), ("--outside", "203.0.113.1/24"),
                              ("--max-sessions-per-host", "10"), ("--new-sessions-per-host", "50/s")] {
            try o.take(flag, value)
        }
        let config = try o.config()
        XCTAssertEqual(config.maxSessionsPerHost, 10)
        XCTAssertEqual(config.newSessionsPerHost, 50)
        let split = NatWorkerGroup(workers: 4).processor(config: config, worker: 1)
        XCTAssertEqual(split.gateway.sessions.hosts.maxSessions, 3, "10 over 4 workers, rounded up")
    }
}
