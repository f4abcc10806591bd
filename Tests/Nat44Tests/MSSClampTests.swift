import BufferCache
import CMallocCounter
import PacketFixtures
import XCTest
import PacketFormats
import Pipeline
@testable import Nat44

/// `--mss-clamp`: SYN and SYN-ACK MSS options above the limit are lowered either way with the
/// TCP checksum still right; anything else is left as it was.
final class MSSClampTests: XCTestCase {
    typealias F = TestFrames
    let host = F.ip("192.168.10.2"), remote = F.ip("198.51.100.7")

    func config(_ clamp: NatMSSClamp, outsideMTU: Int = 1400) throws -> NatConfig {
        var c = try NatFixtures.config()
        c.mssClamp = clamp
        c.insideMTU = 1500
        c.outsideMTU = outsideMTU
        try c.validate()
        return c
    }

    /// MSS option (kind 2) of `mss`, with `leadingNOP` to put it at an odd offset.
    static func mssOption(_ mss: UInt16, leadingNOP: Bool = false) -> [UInt8] {
        leadingNOP ? [1, 2, 4] + F.be16(mss) + [1, 1, 1] : [2, 4] + F.be16(mss) + [1, 1, 3, 3, 7, 0]
    }

    /// The MSS option's value in a forwarded frame, nil without one.
    static func mss(_ frame: [UInt8]) -> UInt16? {
        let p = F.packet(frame)
        let tcp = Array(p[(Int(p[0] & 0xF) * 4)...])
        var at = 20
        while at < Int(tcp[12] >> 4) * 4 {
            if tcp[at] == 0 { return nil }
            if tcp[at] == 1 { at += 1; continue }
            if tcp[at] == 2 { return F.half(tcp, at + 2) }
            at += Int(tcp[at + 1])
        }
        return nil
    }

    func outboundSYN(_ options: [UInt8], flags: UInt8 = 0x02, sport: UInt16 = 40000) -> [UInt8] {
        F.fromInside(F.ipv4(src: host, dst: remote, proto: 6,
                            F.tcp(src: host, dst: remote, sport: sport, dport: 443, flags: flags, options: options)))
    }

    func testAutoClampsTheSYNOutAndTheSYNACKBack() throws {
        var rig = GatewayRig(try config(.auto), hosts: [host])
        for leadingNOP in [false, true] {
            let sport: UInt16 = leadingNOP ? 40002 : 40000
            let out = rig.send(outboundSYN(Self.mssOption(1460, leadingNOP: leadingNOP), sport: sport), .inside)
            let syn = try XCTUnwrap(out.forwarded)
            XCTAssertEqual(Self.mss(syn), 1360, "1400 - 40")
            XCTAssertTrue(F.transportChecksumOK(F.packet(syn)), "odd offset: \(leadingNOP)")
            let back = F.fromOutside(F.ipv4(src: remote, dst: F.outsideAddress, proto: 6,
                                            F.tcp(src: remote, dst: F.outsideAddress, sport: 443, dport: sport, flags: 0x12,
                                                  options: Self.mssOption(1460, leadingNOP: leadingNOP))))
            let synAck = try XCTUnwrap(rig.send(back, .outside).forwarded)
            XCTAssertEqual(Self.mss(synAck), 1360)
            XCTAssertTrue(F.transportChecksumOK(F.packet(synAck)))
        }
        XCTAssertEqual(rig.gateway.counters.mssClamped, 4)
        rig.finish()
    }

    func testSmallerMSSNoOptionAndNonSYNAreLeftAlone() throws {
        var rig = GatewayRig(try config(.limit(1200), outsideMTU: 1500), hosts: [host])
        XCTAssertEqual(Self.mss(try XCTUnwrap(rig.send(outboundSYN(Self.mssOption(1100)), .inside).forwarded)), 1100)
        let bare = try XCTUnwrap(rig.send(outboundSYN([], sport: 40010), .inside).forwarded)
        XCTAssertNil(Self.mss(bare))
        // A non-SYN segment carrying an MSS option (not meaningful, but possible) keeps it.
        let ack = try XCTUnwrap(rig.send(outboundSYN(Self.mssOption(1460), flags: 0x10, sport: 40000), .inside).forwarded)
        XCTAssertEqual(Self.mss(ack), 1460)
        XCTAssertEqual(Self.mss(try XCTUnwrap(rig.send(outboundSYN(Self.mssOption(1460), sport: 40020), .inside).forwarded)), 1200)
        XCTAssertEqual(rig.gateway.counters.mssClamped, 1)
        rig.finish()
    }

    func testOffChangesNothing() throws {
        var rig = GatewayRig(try config(.off), hosts: [host])
        XCTAssertEqual(rig.gateway.mssLimit, 0)
        XCTAssertEqual(Self.mss(try XCTUnwrap(rig.send(outboundSYN(Self.mssOption(1460)), .inside).forwarded)), 1460)
        XCTAssertEqual(rig.gateway.counters.mssClamped, 0)
        rig.finish()
    }

    /// Options cut short or lying about their length end the scan without reading past the header.
    func testMalformedOptionsAreNotFollowed() throws {
        var rig = GatewayRig(try config(.auto), hosts: [host])
        for (i, options) in [[2, 0, 0x05, 0xB4], [3, 9, 1, 1], [1, 1, 1, 2], [2, 4, 0x05, 0xB4, 2, 40, 0, 0]].enumerated() {
            let r = rig.send(outboundSYN(options.map { UInt8($0) }, sport: UInt16(41000 + 2 * i)), .inside)
            let f = try XCTUnwrap(r.forwarded)
            XCTAssertTrue(F.transportChecksumOK(F.packet(f)))
        }
        XCTAssertEqual(rig.gateway.counters.mssClamped, 1, "only the well-formed option before the bad one")
        rig.finish()
    }

    /// Clamping allocates nothing: the SYN out and the SYN-ACK back, again and again.
    func testNoAllocationWhileClamping() throws {
        var rig = GatewayRig(try config(.auto), hosts: [host])
        let frameList = [outboundSYN(Self.mssOption(1460)),
                         F.fromOutside(F.ipv4(src: remote, dst: F.outsideAddress, proto: 6,
                                              F.tcp(src: remote, dst: F.outsideAddress, sport: 443, dport: 40000,
                                                    flags: 0x12, options: Self.mssOption(1460))))]
        let sideList: [Side] = [.inside, .outside]
        let head = try XCTUnwrap(rig.allocator.get())
        var allocations: UInt64 = 0
        var forwarded = 0
        for pass in 0..<1001 {
            let before = cmc_thread_allocations()
            for i in 0..<2 {
                let n = frameList[i].count
                head.reset(headroom: 64, owner: 0)
                head.length = n
                frameList[i].withUnsafeBytes { head.data.copyMemory(from: $0.baseAddress!, byteCount: n) }
                if rig.replay(head, from: sideList[i]) { forwarded += 1 }
            }
            if pass > 0 { allocations += cmc_thread_allocations() - before }
        }
        XCTAssertEqual(allocations, 0, "allocations while clamping")
        XCTAssertEqual(forwarded, 2002)
        XCTAssertEqual(rig.gateway.counters.mssClamped, 2002)
        rig.allocator.put(head)
        rig.finish()
    }

    func testTheOptionIsParsedAndChecked() throws {
        XCTAssertEqual(try NatConfig.parseMSSClamp("auto"), .auto)
        XCTAssertEqual(try NatConfig.parseMSSClamp("off"), .off)
        XCTAssertEqual(try NatConfig.parseMSSClamp("1360"), .limit(1360))
        XCTAssertThrowsError(try NatConfig.parseMSSClamp("100")) { e in
            XCTAssertEqual((e as? NatConfigError)?.message,
                           "--mss-clamp 100: expected off, auto or an MSS from 536 to 65495, e.g. 1360")
        }
        XCTAssertEqual(NatMSSClamp.auto.limit(insideMTU: 1500, outsideMTU: 1492), 1452)
        XCTAssertNil(NatMSSClamp.off.limit(insideMTU: 1500, outsideMTU: 1400))
        var o = NatOptions()
        for (flag, value) in [("--inside", "192.168.10.1/24"), ("--outside", "203.0.113.1/24"), ("--mss-clamp", "auto")] {
            try o.take(flag, value)
        }
        XCTAssertEqual(try o.config().mssClamp, .auto)
    }
}
