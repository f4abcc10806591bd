import XCTest
import PacketFormats
import Pipeline
@testable import Nat44

/// `--ipv6 bridge`: IPv6 frames cross with their tag turned into the other side's and nothing
/// else changed; `--ipv6 drop` (the default) drops them as before.
final class IPv6BridgeTests: XCTestCase {
    typealias F = TestFrames
    static let hostMAC: UInt64 = 0x0200_0000_0A02, routerMAC: UInt64 = 0x0200_0000_14FE

    /// A neighbour solicitation-sized IPv6 packet (the bytes need not be a valid one).
    static let ipv6: [UInt8] = [0x60, 0, 0, 0, 0, 8, 58, 255] + [UInt8](repeating: 0x20, count: 32) + [135, 0, 0, 0, 1, 2, 3, 4]

    func testFramesCrossWithTheOtherSidesTagging() throws {
        var c = try NatFixtures.config()
        c.ipv6 = .bridge
        var rig = GatewayRig(c)
        // Inside VLAN 10, PCP 5 -> outside VLAN 20, PCP kept, MACs and payload untouched.
        var out = F.ethernet(vlan: F.insideVLAN, src: Self.hostMAC, dst: 0x3333_0000_0001, etherType: 0x86DD, Self.ipv6)
        out[14] |= 0xA0
        let r = rig.send(out, .inside)
        XCTAssertEqual(r.verdict, .forward(.outside))
        var want = F.ethernet(vlan: F.outsideVLAN, src: Self.hostMAC, dst: 0x3333_0000_0001, etherType: 0x86DD, Self.ipv6)
        want[14] |= 0xA0
        XCTAssertEqual(r.forwarded, want)
        let back = F.ethernet(vlan: F.outsideVLAN, src: Self.routerMAC, dst: Self.hostMAC, etherType: 0x86DD, Self.ipv6)
        XCTAssertEqual(rig.send(back, .outside).forwarded,
                       F.ethernet(vlan: F.insideVLAN, src: Self.routerMAC, dst: Self.hostMAC, etherType: 0x86DD, Self.ipv6))
        XCTAssertEqual(rig.gateway.counters.ipv6BridgedOutbound, 1)
        XCTAssertEqual(rig.gateway.counters.ipv6BridgedInbound, 1)
        // Another VLAN is still wrong_vlan; another EtherType still not_ipv4.
        let stray = F.ethernet(vlan: 30, src: Self.hostMAC, dst: Self.routerMAC, etherType: 0x86DD, Self.ipv6)
        XCTAssertEqual(rig.send(stray, .inside).verdict, .drop(.wrongVlan))
        let other = F.ethernet(vlan: F.insideVLAN, src: Self.hostMAC, dst: Self.routerMAC, etherType: 0x88B5, Self.ipv6)
        XCTAssertEqual(rig.send(other, .inside).verdict, .drop(.notIPv4))
        rig.finish()
    }

    func testUntaggedSidesPushAndPop() throws {
        var c = try NatFixtures.config()
        c.ipv6 = .bridge
        c.insideVLAN = nil
        var rig = GatewayRig(c)
        let out = F.ethernet(vlan: nil, src: Self.hostMAC, dst: Self.routerMAC, etherType: 0x86DD, Self.ipv6)
        XCTAssertEqual(rig.send(out, .inside).forwarded,
                       F.ethernet(vlan: F.outsideVLAN, src: Self.hostMAC, dst: Self.routerMAC, etherType: 0x86DD, Self.ipv6))
        let back = F.ethernet(vlan: F.outsideVLAN, src: Self.routerMAC, dst: Self.hostMAC, etherType: 0x86DD, Self.ipv6)
        XCTAssertEqual(rig.send(back, .outside).forwarded,
                       F.ethernet(vlan: nil, src: Self.routerMAC, dst: Self.hostMAC, etherType: 0x86DD, Self.ipv6))
        rig.finish()
    }

    func testDropIsTheDefault() throws {
        var rig = GatewayRig(try NatFixtures.config())
        let out = F.ethernet(vlan: F.insideVLAN, src: Self.hostMAC, dst: Self.routerMAC, etherType: 0x86DD, Self.ipv6)
        XCTAssertEqual(rig.send(out, .inside).verdict, .drop(.notIPv4))
        XCTAssertEqual(rig.gateway.counters.ipv6BridgedOutbound, 0)
        XCTAssertEqual(try NatConfig.parseIPv6Mode("bridge"), .bridge)
        XCTAssertThrowsError(try NatConfig.parseIPv6Mode("nat66")) { e in
            XCTAssertEqual((e as? NatConfigError)?.message, "--ipv6 nat66: expected drop or bridge")
        }
        rig.finish()
    }
}
