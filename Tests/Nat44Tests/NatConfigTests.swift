import XCTest
import PacketFixtures
import PacketFormats
import Pipeline
@testable import Nat44

/// The `--vlan-nat` option parsers and the configuration checks: each failure names the option
/// and shows a valid value.
final class NatConfigTests: XCTestCase {
    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as NatConfigError {
            return error.message
        } catch {
            return "not a NatConfigError: \(error)"
        }
    }

    func testParseCIDR() throws {
        let p = try NatConfig.parseCIDR("192.168.10.1/24")
        XCTAssertEqual(p.address, IPv4Address(0xC0A8_0A01))
        XCTAssertEqual(p.length, 24)
        XCTAssertEqual(p.network, 0xC0A8_0A00)
        XCTAssertEqual(p.broadcast, 0xC0A8_0AFF)
        XCTAssertTrue(p.contains(0xC0A8_0A63))
        XCTAssertFalse(p.contains(0xC0A8_0B01))
        XCTAssertEqual(p.description, "192.168.10.1/24")
        XCTAssertEqual(message { _ = try NatConfig.parseCIDR("192.168.10.1", option: "--inside") },
                       "--inside 192.168.10.1: expected ADDR/PREFIX, e.g. 192.168.10.1/24")
        XCTAssertEqual(message { _ = try NatConfig.parseCIDR("192.168.10.1/33", option: "--outside") },
                       "--outside 192.168.10.1/33: the prefix length must be 0-32, e.g. 192.168.10.1/24")
        for bad in ["256.1.1.1/24", "1.2.3/24", "1.2.3.4.5/24", "a.b.c.d/8", "1.2.3.4/-1", "1.2.3.4/+8", " 1.2.3.4/8", "/8"] {
            XCTAssertNotNil(message { _ = try NatConfig.parseCIDR(bad) }, bad)
        }
    }

    func testParseForward() throws {
        let f = try NatConfig.parseForward("tcp:8080=192.168.10.2:80")
        XCTAssertEqual(f, NatForward(proto: .tcp, externalPort: 8080, internalAddress: IPv4Address("192.168.10.2")!, internalPort: 80))
        XCTAssertEqual(try NatConfig.parseForward("UDP:53=10.0.0.5:5353").proto, .udp)
        XCTAssertEqual(f.description, "tcp:8080=192.168.10.2:80")
        XCTAssertEqual(message { _ = try NatConfig.parseForward("sctp:1=1.2.3.4:1") },
                       "--forward sctp:1=1.2.3.4:1: protocol must be tcp or udp")
        XCTAssertEqual(message { _ = try NatConfig.parseForward("tcp:8080") },
                       "--forward tcp:8080: expected PROTO:PORT=IP:PORT, e.g. tcp:8080=192.168.10.2:80")
        XCTAssertEqual(message { _ = try NatConfig.parseForward("tcp:0=1.2.3.4:1") },
                       "--forward tcp:0=1.2.3.4:1: '0' is not a port (1-65535)")
        XCTAssertEqual(message { _ = try NatConfig.parseForward("tcp:1=1.2.3.4:70000") },
                       "--forward tcp:1=1.2.3.4:70000: '70000' is not a port (1-65535)")
        XCTAssertNotNil(message { _ = try NatConfig.parseForward("tcp:1=host:80") })
    }

    func testParseScalars() throws {
        XCTAssertEqual(try NatConfig.parseVID("10", option: "--inside-vlan"), 10)
        XCTAssertEqual(message { _ = try NatConfig.parseVID("4095", option: "--inside-vlan") },
                       "--inside-vlan 4095: a VLAN id is 1-4094 (omit the option for untagged)")
        XCTAssertNotNil(message { _ = try NatConfig.parseVID("0", option: "--outside-vlan") })
        XCTAssertEqual(try NatConfig.parseMaxSessions("65536"), 65536)
        XCTAssertNotNil(message { _ = try NatConfig.parseMaxSessions("0") })
        XCTAssertNotNil(message { _ = try NatConfig.parseMaxSessions("lots") })
        XCTAssertEqual(try NatConfig.parseTimeout("300", option: "--timeout-udp"), 300)
        XCTAssertEqual(try NatConfig.parseTimeout("300s", option: "--timeout-udp"), 300)
        XCTAssertEqual(try NatConfig.parseTimeout("5m", option: "--timeout-udp"), 300)
        XCTAssertEqual(try NatConfig.parseTimeout("2h4m", option: "--timeout-tcp"), 7440)
        XCTAssertEqual(message { _ = try NatConfig.parseTimeout("0", option: "--timeout-icmp") },
                       "--timeout-icmp 0: must be from 1 s to 7 days")
        XCTAssertEqual(message { _ = try NatConfig.parseTimeout("5x", option: "--timeout-icmp") },
                       "--timeout-icmp 5x: expected seconds, e.g. 300, 300s, 5m or 2h4m")
        XCTAssertNotNil(message { _ = try NatConfig.parseTimeout("", option: "--timeout-udp") })
        XCTAssertNotNil(message { _ = try NatConfig.parseTimeout("h", option: "--timeout-udp") })
        XCTAssertNotNil(message { _ = try NatConfig.parseTimeout("99999999999999999999h", option: "--timeout-udp") })
        XCTAssertNotNil(message { _ = try NatConfig.parseTimeout("9999999999h", option: "--timeout-udp") })
        XCTAssertEqual(try NatConfig.parseIPv4("203.0.113.1", option: "--gateway").description, "203.0.113.1")
        XCTAssertEqual(message { _ = try NatConfig.parseIPv4("203.0.113", option: "--gateway") },
                       "--gateway 203.0.113: not an IPv4 address (expected e.g. 192.168.10.1)")
        XCTAssertEqual(EthernetAddress("02:00:00:00:01:0a")?.description, "02:00:00:00:01:0a")
        XCTAssertNil(EthernetAddress("02:00:00:00:01"))
        XCTAssertEqual(EthernetAddress(bytes: [2, 0, 0, 0, 1, 10]), EthernetAddress("02-00-00-00-01-0A"))
    }

    func testDefaults() throws {
        let c = try NatFixtures.config()
        XCTAssertEqual(c.maxSessions, 131072)
        XCTAssertEqual(c.timeouts.udp, 300)
        XCTAssertEqual(c.timeouts.tcpEstablished, 7440)
        XCTAssertEqual(c.timeouts.tcpTransitory, 240)
        XCTAssertEqual(c.timeouts.icmp, 60)
        XCTAssertTrue(NatConfig.example.contains("--inside 192.168.10.1/24"))
    }

    func testValidate() throws {
        var c = try NatFixtures.config()
        XCTAssertNil(message { try c.validate() })
        c.outside = try NatConfig.parseCIDR("192.168.10.200/16")
        XCTAssertEqual(message { try c.validate() },
                       "--inside 192.168.10.1/24 and --outside 192.168.10.200/16 overlap; the two sides need separate subnets")
        c = try NatFixtures.config()
        c.gateway = IPv4Address("198.51.100.1")
        XCTAssertEqual(message { try c.validate() }, "--gateway 198.51.100.1 must be another host on the outside subnet 203.0.113.2/24")
        c = try NatFixtures.config()
        c.inside = try NatConfig.parseCIDR("192.168.10.0/24")
        XCTAssertEqual(message { try c.validate() }?.contains("network or broadcast"), true)
        c = try NatFixtures.config()
        c.forwards.append(try NatConfig.parseForward("tcp:8080=192.168.10.9:80"))
        XCTAssertEqual(message { try c.validate() }, "--forward tcp:8080=192.168.10.9:80: tcp port 8080 is forwarded twice")
        c = try NatFixtures.config()
        c.forwards.append(try NatConfig.parseForward("tcp:8081=192.168.10.2:80"))
        XCTAssertEqual(message { try c.validate() }?.contains("is the target of two forwards"), true)
        c = try NatFixtures.config()
        c.forwards = [try NatConfig.parseForward("tcp:22=10.0.0.2:22")]
        XCTAssertEqual(message { try c.validate() }, "--forward tcp:22=10.0.0.2:22: 10.0.0.2 is not a host on the inside subnet 192.168.10.1/24")
        c = try NatFixtures.config()
        c.inside = try NatConfig.parseCIDR("192.168.10.1/32")
        XCTAssertNotNil(message { try c.validate() })
    }

    func testCountersFieldsAreStable() throws {
        var n = NatCounters()
        n.drops[.noSession] = 3
        n.udp.active = 2
        let f = Dictionary(uniqueKeysWithValues: n.fields)
        XCTAssertEqual(f["drop_no_session"], 3)
        XCTAssertEqual(f["udp_active"], 2)
        XCTAssertEqual(n.sessionsActive, 2)
        XCTAssertEqual(n.drops.total, 3)
        XCTAssertEqual(Set(NatDropReason.allCases.map(\.description)).count, NatDropReason.allCases.count)
        for r in NatDropReason.allCases {
            var d = NatDropCounters()
            d[r] = 7
            XCTAssertEqual(d[r], 7)
            XCTAssertEqual(d.total, 7, "\(r)")
        }
    }
}
