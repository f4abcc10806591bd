import XCTest
import PacketFormats
@testable import Nat44

/// The gateway's command-line options, read one by one and combined into a checked configuration.
final class NatOptionsTests: XCTestCase {
    func testOptionsBecomeAConfiguration() throws {
        var o = NatOptions()
        for (flag, value) in [("--inside", "192.168.10.1/24"), ("--outside", "203.0.113.1/24"), ("--inside-vlan", "10"),
                              ("--forward", "tcp:8080=192.168.10.2:80"), ("--timeout-tcp", "2h4m")] {
            try o.take(flag, value)
        }
        XCTAssertEqual(o.firstFlag, "--inside")
        let c = try o.config()
        XCTAssertEqual(c.inside.description, "192.168.10.1/24")
        XCTAssertEqual(c.insideVLAN, 10)
        XCTAssertNil(c.outsideVLAN)
        XCTAssertEqual(c.forwards.map(\.description), ["tcp:8080=192.168.10.2:80"])
        XCTAssertEqual(c.timeouts.tcpEstablished, 7440)
        XCTAssertEqual(c.insideMAC, EthernetAddress(0), "a placeholder until the interface is known")
    }

    func testMissingAddressesAndBadValuesAreNamed() {
        var o = NatOptions()
        XCTAssertThrowsError(try o.take("--inside-vlan", "5000")) { e in
            XCTAssertEqual((e as? NatConfigError)?.message,
                           "--inside-vlan 5000: a VLAN id is 1-4094 (omit the option for untagged)")
        }
        XCTAssertNoThrow(try o.take("--inside", "10.0.0.1/8"))
        XCTAssertThrowsError(try o.config()) { e in
            XCTAssertEqual((e as? NatConfigError)?.message,
                           "--vlan-nat needs --outside: the gateway's address on each side; \(NatConfig.example)")
        }
    }
}
