import BufferCache
import CMallocCounter
import XCTest
import PacketFixtures
import PacketFormats
import Pipeline
@testable import Nat44

/// Unit tests of the NAT's tables and state machine, plus gateway-level properties that the
/// byte-exact fixtures don't show: bounded expiry per tick, no allocation per packet, and a fuzz
/// loop of a few thousand mutated and random frames.
final class NatGatewayTests: XCTestCase {
    // MARK: Port pool

    func testPortPoolNeverHandsOutAPortInUse() throws {
        let table = NatSessionTable(capacity: 16)
        // Take every even high port except three.
        for p in stride(from: 1024, through: 65534, by: 2) where p != 2000 && p != 50000 && p != 65534 {
            table.ports.take(.udp, UInt16(p))
        }
        var got: [UInt16] = []
        for _ in 0..<3 {
            let p = try XCTUnwrap(table.ports.allocate(.udp, preferred: 40000))
            XCTAssertGreaterThan(p, 0)
            got.append(p)
            table.ports.take(.udp, p)
        }
        XCTAssertEqual(got, [50000, 65534, 2000], "next free of the same parity above, then wrap within the range")
        XCTAssertNil(table.ports.allocate(.udp, preferred: 40000), "even high range exhausted")
        XCTAssertEqual(table.ports.allocate(.udp, preferred: 40001), 40001, "odd ports are still free")
        XCTAssertEqual(table.ports.allocate(.udp, preferred: 80), 80, "low range unaffected")
        XCTAssertEqual(table.ports.allocate(.tcp, preferred: 40000), 40000, "TCP has its own pool")
    }

    func testExpiredButUnreclaimedSessionKeepsItsPort() {
        var table = NatSessionTable(capacity: 4)
        let s = table.insert(NatSession(inAddr: 0x0A00_0002, inPort: 5000, extPort: 5000, proto: .udp,
                                        tcpState: .none, isForward: false, expires: 0), now: 0)
        XCTAssertEqual(table.find(.udp, externalPort: 5000), s)
        XCTAssertEqual(table.ports.allocate(.udp, preferred: 5000), 5002)
        table.remove(s)
        XCTAssertEqual(table.ports.allocate(.udp, preferred: 5000), 5000)
        XCTAssertNil(table.find(SessionKey(proto: .udp, address: 0x0A00_0002, port: 5000)))
        XCTAssertNil(table.find(.udp, externalPort: 5000))
    }

    func testForwardPortStaysReservedAfterItsSessionEnds() {
        var table = NatSessionTable(capacity: 4)
        table.ports.take(.tcp, 8080)
        let s = table.insert(NatSession(inAddr: 1, inPort: 80, extPort: 8080, proto: .tcp, tcpState: .synIn,
                                        isForward: true, expires: 0), now: 0)
        table.remove(s)
        XCTAssertTrue(table.ports.isUsed(.tcp, 8080))
        XCTAssertEqual(table.ports.allocate(.tcp, preferred: 8080), 8082)
    }

    func testICMPIdentifiersUseTheWholeSpace() {
        let table = NatSessionTable(capacity: 4)
        table.ports.take(.icmp, 65535)
        XCTAssertEqual(table.ports.allocate(.icmp, preferred: 65535), 0, "wraps to 0, no parity")
        XCTAssertEqual(table.ports.allocate(.icmp, preferred: 7), 7)
    }

    /// Through the gateway: with every even high UDP port taken, a new flow from an even high
    /// port is dropped as `portsExhausted`; an odd one still gets its own port.
    func testPortsExhaustedDropsTheNewFlow() throws {
        var allocator = PlainAllocator()
        var gateway = NatGateway(config: try NatFixtures.config())
        let (_, prime, udp) = try Self.seedFrames()
        for f in prime { _ = Self.feed(&gateway, f, .inside, 0, &allocator) }
        for p in stride(from: 1024, through: 65534, by: 2) { gateway.sessions.ports.take(.udp, UInt16(p)) }
        XCTAssertEqual(Self.feed(&gateway, udp, .inside, 0, &allocator), .drop(.portsExhausted))
        var odd = udp
        odd[18 + 20 + 1] |= 1      // source port 40001
        odd[18 + 20 + 6] = 0; odd[18 + 20 + 7] = 0
        XCTAssertEqual(Self.feed(&gateway, odd, .inside, 0, &allocator), .forward(.outside))
        XCTAssertEqual(gateway.counters.drops.portsExhausted, 1)
        XCTAssertEqual(gateway.externalPort(proto: .udp, insideAddress: IPv4Address("192.168.10.2")!, insidePort: 40001), 40001)
        gateway.releaseAll(allocator: &allocator)
    }

    // MARK: Expiry

    func testExpiryIsIncremental() {
        var table = NatSessionTable(capacity: 1024)
        let protocols: [NatProtocol] = [.tcp, .udp, .icmp]
        for i in 0..<1000 {
            _ = table.insert(NatSession(inAddr: 0x0A00_0000 | UInt32(i), inPort: 1000, extPort: UInt16(2000 + i),
                                        proto: protocols[i % 3], tcpState: .none, isForward: false, expires: 5), now: 0)
        }
        var rounds = 0
        while table.active > 0 {
            let before = table.active
            let expired = table.expire(now: 10, budget: 256)
            XCTAssertLessThanOrEqual(expired.total, 256)
            XCTAssertEqual(before - table.active, expired.total)
            rounds += 1
        }
        XCTAssertEqual(rounds, 4)
        for i in 0..<1000 {
            XCTAssertNil(table.find(SessionKey(proto: protocols[i % 3], address: 0x0A00_0000 | UInt32(i), port: 1000)))
        }
    }

    func testGatewayTickHonoursTheBudget() throws {
        var config = try NatFixtures.config()
        config.maxSessions = 4096
        config.expiryBudget = 64
        var allocator = PlainAllocator()
        var gateway = NatGateway(config: config)
        let (frames, prime, udp) = try Self.seedFrames()
        for f in prime { _ = Self.feed(&gateway, f, .inside, 0, &allocator) }
        var template = udp
        template[18 + 20 + 6] = 0; template[18 + 20 + 7] = 0  // UDP checksum "none": ports may change freely
        for port in 0..<200 {
            var f = template
            f[18 + 20] = UInt8((20000 + port) >> 8); f[18 + 20 + 1] = UInt8((20000 + port) & 0xFF)
            XCTAssertEqual(Self.feed(&gateway, f, .inside, 0, &allocator), .forward(.outside))
        }
        XCTAssertEqual(gateway.activeSessions, 200)
        let late: UInt64 = 1_000 * 1_000_000_000
        var ticks = 0
        while gateway.activeSessions > 0 {
            let before = gateway.counters.udp.expired
            gateway.tick(now: late, allocator: &allocator)
            XCTAssertLessThanOrEqual(gateway.counters.udp.expired - before, 64)
            ticks += 1
        }
        XCTAssertEqual(ticks, 4, "the 200 sessions sit in the first 200 slots: 64 + 64 + 64 + 8")
        XCTAssertEqual(gateway.counters.udp.expired, 200)
        XCTAssertEqual(gateway.counters.udp.active, 0)
        gateway.releaseAll(allocator: &allocator)
        while let (_, h) = gateway.popOutput() { allocator.put(h) }
        _ = frames
        XCTAssertEqual(allocator.counters.gets, allocator.counters.puts)
    }

    // MARK: TCP state

    func testTCPStateMachine() {
        typealias S = NatTCPState
        let syn: UInt8 = 0x02, synAck: UInt8 = 0x12, ack: UInt8 = 0x10, fin: UInt8 = 0x11, rst: UInt8 = 0x04
        func run(_ start: S, _ steps: [(UInt8, Bool)]) -> S {
            steps.reduce(start) { $0.next(flags: $1.0, outbound: $1.1) }
        }
        XCTAssertEqual(run(.synOut, [(synAck, false)]), .established)
        XCTAssertEqual(run(.synOut, [(ack, true)]), .synOut, "no answer yet")
        XCTAssertEqual(run(.synOut, [(syn, false)]), .established, "simultaneous open")
        XCTAssertEqual(run(.synIn, [(synAck, true)]), .established, "port forward handshake")
        XCTAssertEqual(run(.midstream, [(ack, true), (ack, false)]), .established)
        XCTAssertEqual(run(.established, [(fin, true)]), .closing)
        XCTAssertEqual(run(.established, [(rst, false)]), .closed)
        XCTAssertEqual(run(.closed, [(syn, true)]), .synOut, "port reuse after close")
        XCTAssertEqual(run(.closing, [(syn, false)]), .synIn)
        XCTAssertEqual(run(.established, [(ack, true), (ack, false), (syn, true)]), .established)
    }

    // MARK: No allocation per packet

    /// The translation path (outbound and return traffic, TCP and UDP) allocates nothing: the
    /// malloc family is counted per thread by the CMallocCounter interposer.
    func testNoAllocationPerPacket() throws {
        var allocator = PlainAllocator()
        var gateway = NatGateway(config: try NatFixtures.config())
        let fixture = try XCTUnwrap(NatFixtures.nat.cases.first { $0.name == "tcp_out_and_back" })
        let frames = try NatFixtures.frames(fixture.pcap)
        let steps = fixture.steps.filter { $0.kind == "packet" }
        let frameList = steps.map { frames[$0.frame!] }
        let sideList = steps.map { NatFixtures.side($0.side!) }
        let expected = steps.map { NatVerdict.forward(NatFixtures.side($0.out_side!)) }
        let head = try XCTUnwrap(allocator.get())
        let translated = steps.count - 3
        var forwarded = 0
        var allocations: UInt64 = 0
        // First pass sets up neighbours and the session; the measured passes repeat the
        // handshake and data segments (SYN, SYN/ACK, data) against the existing session.
        for pass in 0..<2001 {
            let before = cmc_thread_allocations()
            for i in (pass == 0 ? 0 : translated)..<steps.count {
                let n = frameList[i].count
                head.reset(headroom: 64, owner: 0)
                head.length = n
                frameList[i].withUnsafeBytes { head.data.copyMemory(from: $0.baseAddress!, byteCount: n) }
                let v = gateway.process(head, from: sideList[i], now: 1_000_000_000, allocator: &allocator)
                if pass > 0 && v == expected[i] { forwarded += 1 }
            }
            if pass > 0 { allocations += cmc_thread_allocations() - before }
        }
        XCTAssertEqual(allocations, 0, "allocations on the translation path")
        XCTAssertEqual(forwarded, 6000)
        allocator.put(head)
        gateway.releaseAll(allocator: &allocator)
    }

    // MARK: Fuzz

    /// A few thousand random and mutated frames on both sides with the clock moving and timers
    /// running: no crash, every forwarded IPv4 frame has a valid header checksum, and every head
    /// is accounted for at the end (returned by the caller or by `releaseAll`).
    func testFuzzNeverCrashesOrLeaks() throws {
        var config = try NatFixtures.config()
        config.maxSessions = 512
        config.fragmentCapacity = 64
        var allocator = PlainAllocator()
        var gateway = NatGateway(config: config)
        let (seeds, prime, _) = try Self.seedFrames()
        for f in prime { _ = Self.feed(&gateway, f, f[13] == 0 ? .inside : .inside, 0, &allocator) }
        var rng = TestRNG(seed: 0xF0F0_1234)
        var verdicts = [0, 0, 0]
        var now: UInt64 = 1_000_000_000
        let dropsBefore = gateway.counters.drops.total, laterBefore = gateway.counters.dropsLater
        for i in 0..<6000 {
            var bytes: [UInt8]
            switch rng.next() % 4 {
            case 0:
                bytes = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if bytes.count >= 18 && rng.next() % 2 == 0 {
                    bytes[12] = 0x81; bytes[13] = 0x00; bytes[14] = 0; bytes[15] = rng.next() % 2 == 0 ? 10 : 20
                    bytes[16] = 0x08; bytes[17] = rng.next() % 3 == 0 ? 0x06 : 0x00
                }
            case 1:
                bytes = seeds[Int(rng.next() % UInt64(seeds.count))]
                bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))
            default:
                bytes = seeds[Int(rng.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) where !bytes.isEmpty {
                    let at = Int(rng.next() % UInt64(min(bytes.count, 80)))
                    bytes[at] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                }
            }
            let side: Side = rng.next() % 2 == 0 ? .inside : .outside
            let head = makeHead(bytes, &allocator)
            switch gateway.process(head, from: side, now: now, allocator: &allocator) {
            case .forward:
                verdicts[0] += 1
                XCTAssertTrue(Self.ipv4HeaderOK(head.frameBytes), "forwarded frame with a bad IPv4 header, iteration \(i)")
                allocator.put(head)
            case .drop:
                verdicts[1] += 1
                allocator.put(head)
            case .consumed:
                verdicts[2] += 1
            }
            now += rng.next() % 50_000_000
            if i % 50 == 0 { gateway.tick(now: now, allocator: &allocator) }
            while let (_, h) = gateway.popOutput() {
                XCTAssertTrue(Self.ipv4HeaderOK(h.frameBytes))
                allocator.put(h)
            }
        }
        XCTAssertGreaterThan(verdicts[0], 100, "fuzz should reach the translation path")
        XCTAssertGreaterThan(verdicts[1], 100)
        XCTAssertGreaterThanOrEqual(gateway.counters.drops.total, UInt64(verdicts[1]))
        // Every NAT drop is either the verdict on the frame just processed (a direction counts
        // it) or counted in dropsLater (held frames dropped later, frames the gateway made).
        XCTAssertEqual(gateway.counters.drops.total - dropsBefore,
                       UInt64(verdicts[1]) + gateway.counters.dropsLater - laterBefore)
        gateway.releaseAll(allocator: &allocator)
        XCTAssertEqual(allocator.counters.gets, allocator.counters.puts, "heads leaked or double-freed")
    }

    // MARK: Helpers

    /// Input frames of all NAT fixtures, the priming ARP frames, and a plain outbound UDP frame.
    static func seedFrames() throws -> (seeds: [[UInt8]], prime: [[UInt8]], udp: [UInt8]) {
        var seeds: [[UInt8]] = []
        var prime: [[UInt8]] = []
        var udp: [UInt8] = []
        for c in NatFixtures.nat.cases {
            let frames = try NatFixtures.frames(c.pcap)
            for s in c.steps where s.kind == "packet" {
                seeds.append(frames[s.frame!])
                if c.name == "udp_out_and_back" {
                    if s.note?.hasPrefix("prime") == true { prime.append(frames[s.frame!]) }
                    if udp.isEmpty && s.note?.isEmpty != false && s.side == "in" { udp = frames[s.frame!] }
                }
            }
        }
        return (seeds, prime, udp)
    }

    /// Feeds one frame; forwarded and dropped heads are put back.
    static func feed<A: HeadAllocator & ~Copyable>(_ gateway: inout NatGateway, _ bytes: [UInt8], _ side: Side,
                                                   _ now: UInt64, _ allocator: inout A) -> NatVerdict {
        let head = makeHead(bytes, &allocator)
        // The prime frames come from both sides: pick the side from the VLAN id in the tag.
        let realSide: Side = bytes.count > 15 && bytes[15] == 20 ? .outside : side
        let v = gateway.process(head, from: realSide, now: 1_000_000_000 + now, allocator: &allocator)
        if v != .consumed { allocator.put(head) }
        return v
    }

    static func ipv4HeaderOK(_ f: [UInt8]) -> Bool {
        guard f.count >= 14 else { return false }
        var off = 12
        while off + 4 <= f.count && (f[off] == 0x81 || f[off] == 0x88) && (f[off + 1] == 0x00 || f[off + 1] == 0xA8) {
            off += 4
        }
        guard off + 2 <= f.count, f[off] == 0x08, f[off + 1] == 0x00 else { return true }
        let ip = off + 2
        guard ip + 20 <= f.count else { return false }
        let ihl = Int(f[ip] & 0x0F) * 4
        guard ihl >= 20, ip + ihl <= f.count else { return false }
        return ReferenceChecksum.sum(f[ip..<ip + ihl]) == 0xFFFF
    }
}
