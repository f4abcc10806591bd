import BufferCache
import PacketFixtures
import PacketFormats
import Pipeline
import XCTest
@testable import Nat44

/// Two and three NAT workers, each frame landing on a random worker (`WorkerHarness`): the
/// translations come out as one gateway's would, from the owner of the port they use.
final class MultiWorkerNatTests: XCTestCase {
    typealias F = TestFrames
    let hosts = (12...16).map { TestFrames.ip("192.168.10.\($0)") }
    let remotes = [TestFrames.ip("198.51.100.7"), TestFrames.ip("198.51.100.8")]

    func testPortSharesAreDisjointAndKeepRangeAndParity() {
        for workers in [2, 3, 64] {
            var owner = [Int: Int]()
            for w in 0..<workers {
                let pool = PortPool(share: NatWorkerShare(index: w, count: workers))
                XCTAssertEqual(pool.allocate(.udp, preferred: UInt16(w * 64 + 7)), UInt16(w * 64 + 7), "preserved in its share")
                while let p = pool.allocate(.udp, preferred: 40001) {
                    XCTAssertEqual(p & 1, 1, "parity kept")
                    XCTAssertGreaterThanOrEqual(p, 1024, "range kept")
                    XCTAssertNil(owner[Int(p)], "port \(p) handed out by two workers")
                    owner[Int(p)] = w
                    XCTAssertEqual(Int(p >> 6) % workers, w)
                    pool.take(.udp, p)
                }
            }
            XCTAssertEqual(owner.count, (65535 - 1024 + 1) / 2, "the shares cover the odd high ports")
        }
    }

    /// The owner of a port is its 64-port block modulo the worker count, for every count and block.
    func testOwnerIsTheBlockModuloTheWorkerCount() {
        for workers in 1...NatWorkerShare.maxWorkers {
            let share = NatWorkerShare(index: 0, count: workers)
            for block in 0..<1024 {
                let port = UInt16(block << 6 | block & 63)
                XCTAssertEqual(share.owner(of: port), block % workers, "port \(port), \(workers) workers")
            }
        }
    }

    func testFlowsGetPortsOfTheirOwnerAndRepliesComeBack() throws {
        for workers in [2, 3] { try flows(workers: workers) }
    }

    private func flows(workers: Int) throws {
        var h = try WorkerHarness(workers: workers)
        h.prime(hosts: hosts)
        for w in 0..<workers {
            for ip in hosts { XCTAssertTrue(known(h, w, .inside, ip), "worker \(w) knows \(ip)") }
            XCTAssertTrue(known(h, w, .outside, F.router), "worker \(w) knows the router")
        }
        var rng = TestRNG(seed: UInt64(workers))
        var mapping = [String: UInt16](), endpointOf = [String: String]()
        var preserved = 0
        for i in 0..<300 {
            let host = hosts[Int(rng.next() % UInt64(hosts.count))]
            let sport = UInt16(1024 + rng.next() % 60000)
            let proto: UInt8 = i % 2 == 0 ? 17 : 6
            let key = "\(proto) \(host) \(sport)"
            for remote in remotes {
                let l4 = proto == 17 ? F.udp(src: host, dst: remote, sport: sport, dport: 53)
                    : F.tcp(src: host, dst: remote, sport: sport, dport: 443, flags: 0x02)
                let out = h.deliver(F.fromInside(F.ipv4(src: host, dst: remote, proto: proto, l4)), on: .inside)
                guard out.count == 1, out[0].side == .outside else { return XCTFail("flow \(key): \(out.count) frames, drops \(h.drops)") }
                let p = F.packet(out[0].bytes)
                XCTAssertEqual(F.src(p), F.outsideAddress)
                XCTAssertEqual(ReferenceChecksum.problems(out[0].bytes), [])
                let ext = F.sport(p)
                XCTAssertEqual(Int(ext >> 6) % workers, out[0].worker, "translated by the owner of its port")
                if let m = mapping[key] { XCTAssertEqual(m, ext, "endpoint-independent mapping") } else {
                    mapping[key] = ext
                    if ext == sport { preserved += 1 }
                }
                if let e = endpointOf["\(proto) \(ext)"] { XCTAssertEqual(e, key, "two endpoints on one port") }
                endpointOf["\(proto) \(ext)"] = key
                let back = proto == 17 ? F.udp(src: remote, dst: F.outsideAddress, sport: 53, dport: ext)
                    : F.tcp(src: remote, dst: F.outsideAddress, sport: 443, dport: ext, flags: 0x12)
                let reply = h.deliver(F.fromOutside(F.ipv4(src: remote, dst: F.outsideAddress, proto: proto, back)), on: .outside)
                guard reply.count == 1, reply[0].side == .inside else { return XCTFail("reply to \(key): \(reply.count) frames") }
                let q = F.packet(reply[0].bytes)
                XCTAssertEqual(F.dst(q), host)
                XCTAssertEqual(F.dport(q), sport)
                XCTAssertEqual(ReferenceChecksum.problems(reply[0].bytes), [])
            }
        }
        XCTAssertGreaterThan(preserved, mapping.count * 9 / 10, "inside ports kept when free")
        XCTAssertGreaterThan(h.handOffs, 100, "random landing hands frames to their owner")
        let t = h.totals
        XCTAssertEqual(t.translatedOutbound, 600)
        XCTAssertEqual(t.translatedInbound, 600)
        XCTAssertEqual(t.sessionsActive, UInt64(mapping.count))
        XCTAssertEqual(t.drops.total, 0)
        h.finish()
    }

    func testPortForwardsWorkWhereverTheFrameLands() throws {
        for workers in [2, 3] {
            var h = try WorkerHarness(workers: workers)
            h.prime(hosts: [F.ip("192.168.10.2"), F.ip("192.168.10.3")])
            let client = F.ip("198.51.100.9")
            for land in 0..<workers {
                for (proto, ext, server, port) in [(UInt8(6), UInt16(8080), F.ip("192.168.10.2"), UInt16(80)),
                                                   (17, 5353, F.ip("192.168.10.3"), 53)] {
                    let cport = UInt16(40000 + land * 10 + Int(proto))
                    let l4 = proto == 6 ? F.tcp(src: client, dst: F.outsideAddress, sport: cport, dport: ext, flags: 0x02)
                        : F.udp(src: client, dst: F.outsideAddress, sport: cport, dport: ext)
                    let inbound = h.deliver(F.fromOutside(F.ipv4(src: client, dst: F.outsideAddress, proto: proto, l4)),
                                            on: .outside, to: land)
                    guard inbound.count == 1 else { return XCTFail("forward \(ext) landing on \(land): \(h.drops)") }
                    let p = F.packet(inbound[0].bytes)
                    XCTAssertEqual([F.dst(p), UInt32(F.dport(p))], [server, UInt32(port)])
                    XCTAssertEqual(inbound[0].worker, Int(ext >> 6) % workers)
                    let r4 = proto == 6 ? F.tcp(src: server, dst: client, sport: port, dport: cport, flags: 0x12)
                        : F.udp(src: server, dst: client, sport: port, dport: cport)
                    let reply = h.deliver(F.fromInside(F.ipv4(src: server, dst: client, proto: proto, r4)), on: .inside)
                    guard reply.count == 1 else { return XCTFail("reply of forward \(ext): \(h.drops)") }
                    let q = F.packet(reply[0].bytes)
                    XCTAssertEqual([F.src(q), UInt32(F.sport(q)), F.dst(q), UInt32(F.dport(q))],
                                   [F.outsideAddress, UInt32(ext), client, UInt32(cport)])
                    XCTAssertEqual(ReferenceChecksum.problems(reply[0].bytes), [])
                }
            }
            XCTAssertEqual(h.totals.drops.total, 0)
            h.finish()
        }
    }

    func testICMPErrorsBothWays() throws {
        for workers in [2, 3] {
            var h = try WorkerHarness(workers: workers)
            h.prime(hosts: hosts)
            for (i, host) in hosts.enumerated() {
                let remote = remotes[i % 2], sport = UInt16(20000 + 97 * i)
                let out = h.deliver(F.fromInside(F.ipv4(src: host, dst: remote, proto: 17,
                                                        F.udp(src: host, dst: remote, sport: sport, dport: 53))), on: .inside)
                let sentPacket = F.packet(out[0].bytes)
                let ext = F.sport(sentPacket)
                // The remote end's port unreachable about the translated packet.
                let error = F.icmp(type: 3, code: 3, rest: [0, 0, 0, 0] + Array(sentPacket.prefix(28)))
                let inbound = h.deliver(F.fromOutside(F.ipv4(src: remote, dst: F.outsideAddress, proto: 1, error)), on: .outside)
                guard inbound.count == 1 else { return XCTFail("inbound error: \(h.drops)") }
                let p = F.packet(inbound[0].bytes)
                let quoted = Array(p[28...])
                XCTAssertEqual([F.dst(p), F.src(quoted), UInt32(F.sport(quoted))], [host, host, UInt32(sport)])
                XCTAssertEqual(inbound[0].worker, Int(ext >> 6) % workers)
                XCTAssertEqual(ReferenceChecksum.problems(inbound[0].bytes), [])
                // The inside host's port unreachable about a packet it received from the remote end.
                let got = F.ipv4(src: remote, dst: host, proto: 17, F.udp(src: remote, dst: host, sport: 53, dport: sport))
                let error2 = F.icmp(type: 3, code: 3, rest: [0, 0, 0, 0] + Array(got.prefix(28)))
                let outbound = h.deliver(F.fromInside(F.ipv4(src: host, dst: remote, proto: 1, error2)), on: .inside)
                guard outbound.count == 1 else { return XCTFail("outbound error: \(h.drops)") }
                let q = F.packet(outbound[0].bytes)
                let quoted2 = Array(q[28...])
                XCTAssertEqual([F.src(q), F.dst(quoted2), UInt32(F.dport(quoted2))], [F.outsideAddress, F.outsideAddress, UInt32(ext)])
                XCTAssertEqual(ReferenceChecksum.problems(outbound[0].bytes), [])
            }
            XCTAssertEqual(h.totals.icmpErrorsTranslated, UInt64(2 * hosts.count))
            h.finish()
        }
    }

    /// A UDP datagram in two fragments, outbound and back, in order and out of order, the later
    /// fragment landing on every worker in turn.
    func testFragmentsInAndOutOfOrderAcrossWorkers() throws {
        for workers in [2, 3] {
            var h = try WorkerHarness(workers: workers)
            h.prime(hosts: hosts)
            var id: UInt16 = 100
            for land in 0..<workers {
                for outOfOrder in [false, true] {
                    id += 1
                    let host = hosts[Int(id) % hosts.count], remote = remotes[0]
                    let sport = UInt16(30000 + Int(id) * 3)
                    let udp = F.udp(src: host, dst: remote, sport: sport, dport: 9999, Array(repeating: 7, count: 32))
                    let first = F.fromInside(F.ipv4(src: host, dst: remote, proto: 17, Array(udp.prefix(24)), id: id, fragment: 0x2000))
                    let later = F.fromInside(F.ipv4(src: host, dst: remote, proto: 17, Array(udp.suffix(16)), id: id, fragment: 3))
                    let out = send(&h, first, later, .inside, land, outOfOrder)
                    guard out.count == 2 else { return XCTFail("outbound fragments (\(land), \(outOfOrder)): \(h.drops)") }
                    let ext = F.sport(F.packet(out[0].bytes))
                    for o in out {
                        XCTAssertEqual(F.src(F.packet(o.bytes)), F.outsideAddress)
                        XCTAssertEqual(o.worker, Int(ext >> 6) % workers, "translated by the owner")
                    }
                    // The answer, fragmented the same way.
                    let back = F.udp(src: remote, dst: F.outsideAddress, sport: 9999, dport: ext, Array(repeating: 8, count: 32))
                    let bfirst = F.fromOutside(F.ipv4(src: remote, dst: F.outsideAddress, proto: 17, Array(back.prefix(24)),
                                                      id: id, fragment: 0x2000))
                    let blater = F.fromOutside(F.ipv4(src: remote, dst: F.outsideAddress, proto: 17, Array(back.suffix(16)),
                                                      id: id, fragment: 3))
                    let inb = send(&h, bfirst, blater, .outside, land, outOfOrder)
                    guard inb.count == 2 else { return XCTFail("inbound fragments (\(land), \(outOfOrder)): \(h.drops)") }
                    for o in inb { XCTAssertEqual(F.dst(F.packet(o.bytes)), host) }
                }
            }
            let t = h.totals
            XCTAssertEqual(t.fragmentsTranslated, UInt64(4 * workers))
            XCTAssertEqual(t.drops.total, 0)
            XCTAssertGreaterThan(t.fragmentsHandedOff, 0, "some early fragments waited on a worker that is not their owner")
            h.finish()
        }
    }

    private func send(_ h: inout WorkerHarness, _ first: [UInt8], _ later: [UInt8], _ side: Side, _ land: Int,
                      _ outOfOrder: Bool) -> [WorkerHarness.Sent] {
        if outOfOrder {
            var out = h.deliver(later, on: side, to: land)
            out += h.deliver(first, on: side)
            out += h.tick()
            return out
        }
        return h.deliver(first, on: side) + h.deliver(later, on: side, to: land)
    }

    /// A frame waiting on one worker for its next hop's ARP is released by a reply that lands on
    /// another.
    func testARPReplyOnAnotherWorkerReleasesHeldFrames() throws {
        var h = try WorkerHarness(workers: 3)
        h.prime(hosts: [])
        let server = F.ip("192.168.10.2"), client = F.ip("198.51.100.9")
        let owner = 8080 >> 6 % 3
        let syn = F.tcp(src: client, dst: F.outsideAddress, sport: 41000, dport: 8080, flags: 0x02)
        let first = h.deliver(F.fromOutside(F.ipv4(src: client, dst: F.outsideAddress, proto: 6, syn)), on: .outside)
        XCTAssertEqual(first.count, 1, "only the owner's ARP request")
        XCTAssertEqual(first.first?.worker, (8080 >> 6) % 3)
        _ = owner
        let land = ((8080 >> 6) % 3 + 1) % 3
        let reply = F.arpRequest(from: server, mac: F.hostMAC(server), to: F.insideAddress, vlan: F.insideVLAN,
                                 reply: true, targetMAC: F.insideGatewayMAC)
        let released = h.deliver(reply, on: .inside, to: land)
        XCTAssertEqual(released.count, 1)
        XCTAssertEqual(released.first?.worker, (8080 >> 6) % 3)
        XCTAssertEqual(released.first.map { Array($0.bytes.prefix(6)) }, F.mac(F.hostMAC(server)))
        for w in 0..<3 { XCTAssertTrue(known(h, w, .inside, server)) }
        XCTAssertEqual(h.totals.drops.total, 0, "the reply is learned, not ignored, where it lands")
        h.finish()
    }

    func testHairpinAcrossWorkersAndOnOne() throws {
        for workers in [2, 3] {
            var h = try WorkerHarness(workers: workers)
            h.prime(hosts: hosts)
            let b = hosts[0], a = hosts[1], pb: UInt16 = 5000
            let out = h.deliver(F.fromInside(F.ipv4(src: b, dst: remotes[0], proto: 17,
                                                    F.udp(src: b, dst: remotes[0], sport: pb, dport: 53))), on: .inside)
            let eb = F.sport(F.packet(out[0].bytes))
            for sameWorker in [false, true] {
                // A's port: owned by B's mapping's worker or not.
                var pa: UInt16 = 6000
                while ((Int(pa >> 6) % workers) == Int(eb >> 6) % workers) != sameWorker { pa += 64 }
                let hp = h.deliver(F.fromInside(F.ipv4(src: a, dst: F.outsideAddress, proto: 17,
                                                       F.udp(src: a, dst: F.outsideAddress, sport: pa, dport: eb))), on: .inside)
                guard hp.count == 1, hp[0].side == .inside else { return XCTFail("hairpin (same \(sameWorker)): \(h.drops)") }
                let p = F.packet(hp[0].bytes)
                let ea = F.sport(p)
                XCTAssertEqual([F.src(p), F.dst(p), UInt32(F.dport(p))], [F.outsideAddress, b, UInt32(pb)])
                XCTAssertEqual(Int(ea >> 6) % workers, Int(pa >> 6) % workers, "A's mapping is in its owner's share")
                XCTAssertEqual(p[8], 63, "TTL decremented once")
                XCTAssertEqual(ReferenceChecksum.problems(hp[0].bytes), [])
                // B answers A's mapping: back to A, from B's mapping.
                let r = h.deliver(F.fromInside(F.ipv4(src: b, dst: F.outsideAddress, proto: 17,
                                                      F.udp(src: b, dst: F.outsideAddress, sport: pb, dport: ea))), on: .inside)
                guard r.count == 1 else { return XCTFail("hairpin answer: \(h.drops)") }
                let q = F.packet(r[0].bytes)
                XCTAssertEqual([F.src(q), UInt32(F.sport(q)), F.dst(q), UInt32(F.dport(q))],
                               [F.outsideAddress, UInt32(eb), a, UInt32(pa)])
                XCTAssertEqual(ReferenceChecksum.problems(r[0].bytes), [])
            }
            XCTAssertEqual(h.totals.hairpinned, 4)
            h.finish()
        }
    }

    /// Every stored counter is summed: the sum of counters that differ in every field is checked
    /// through `fields` and the stored properties are all covered (a new field fails this).
    func testCountersSumEveryField() {
        var a = NatCounters(), b = NatCounters()
        var v: UInt64 = 1
        func fill(_ c: inout NatCounters) {
            for p in NatProtocol.allCases {
                c[p] = NatProtocolCounters(active: v, created: v + 1, expired: v + 2)
                v += 3
            }
            for r in NatDropReason.allCases { c.drops[r] = v; v += 1 }
            let scalars: [WritableKeyPath<NatCounters, UInt64>] = [
                \.translatedOutbound, \.translatedInbound, \.hairpinned, \.icmpErrorsTranslated, \.icmpErrorsSent,
                \.icmpErrorsRateLimited, \.echoRepliesSent, \.mssClamped, \.resetsSent, \.ipv6BridgedOutbound, \.ipv6BridgedInbound, \.fragmentsTranslated, \.fragmentsHeld, \.arpReceived,
                \.arpRequestsAnswered, \.arpRequestsSent, \.arpRepliesReceived, \.arpHeld, \.arpReleased,
                \.arpCopiesSent, \.fragmentsHandedOff, \.dropsLater,
            ]
            XCTAssertEqual(scalars.count + 4, Mirror(reflecting: c).children.count, "a counter this test does not set")
            for k in scalars { c[keyPath: k] = v; v += 1 }
        }
        fill(&a)
        fill(&b)
        let s = a + b
        for ((name, x), ((_, y), (_, z))) in zip(s.fields, zip(a.fields, b.fields)) {
            XCTAssertEqual(x, y + z, name)
            XCTAssertNotEqual(y, 0, name)
        }
        XCTAssertEqual(s.dropsLater, a.dropsLater + b.dropsLater)
        XCTAssertEqual(s.sessionsActive, a.sessionsActive + b.sessionsActive)
        XCTAssertEqual(s.drops.total, a.drops.total + b.drops.total)
    }

    private func known(_ h: borrowing WorkerHarness, _ w: Int, _ side: Side, _ ip: UInt32) -> Bool {
        guard let n = h.workers[w].processor.gateway.neighbours.find(side, ip) else { return false }
        return h.workers[w].processor.gateway.neighbours[n].state == .reachable
    }
}
