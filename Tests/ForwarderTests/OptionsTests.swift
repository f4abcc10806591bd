import XCTest
@testable import Forwarder
import Nat44
import VlanTranslation

final class OptionsTests: XCTestCase {
    func parse(_ line: String) throws(UsageError) -> Options { try parsedOptions(line) }

    func usageError(_ line: String) -> String? {
        do { _ = try parse(line); return nil } catch { return error.message }
    }

    func testDefaults() throws {
        let o = try parse("eth0 eth1")
        XCTAssertEqual(o.inName, "eth0")
        XCTAssertEqual(o.outName, "eth1")
        XCTAssertEqual(o.allocator, .cache)
        XCTAssertEqual(o.cachePreset, .kernel2021)
        XCTAssertEqual(o.burst, 32)
        XCTAssertFalse(o.oneWay)
        XCTAssertEqual(o.mode.name, "l2")
    }

    func testEveryOption() throws {
        let o = try parse("a b --one-way --filter=udp --alloc plain --cache-preset kernel-2025 --burst 64 "
            + "--snaplen 4000 --buffer-size 4194304 --duration 2.5 --stats 1 --json --quiet --busy-poll")
        XCTAssertTrue(o.oneWay)
        XCTAssertEqual(o.filter, "udp")
        XCTAssertEqual(o.allocator, .plain)
        XCTAssertEqual(o.cachePreset, .kernel2025)
        XCTAssertEqual(o.burst, 64)
        XCTAssertEqual(o.snaplen, 4000)
        XCTAssertEqual(o.bufferSize, 4_194_304)
        XCTAssertEqual(o.duration, 2.5)
        XCTAssertEqual(o.statsInterval, 1)
        XCTAssertTrue(o.json && o.quiet && o.poll == .busy)
    }

    func testModes() throws {
        guard case .vlanMap(let map) = try parse("a b --vlan-map 10:20 --vlan-map 0:30").mode else {
            return XCTFail("--vlan-map gives the VLAN map mode")
        }
        XCTAssertEqual(map.entries.map { "\($0.inside):\($0.outside)" }, ["10:20", "0:30"])
        let line = "a b --vlan-nat --inside 192.168.1.1/24 --outside 203.0.113.1/24 --inside-vlan 10 --timeout-udp 2m"
        guard case .vlanNat(let nat) = try parse(line).mode else { return XCTFail("--vlan-nat gives the NAT mode") }
        XCTAssertEqual(nat.inside.description, "192.168.1.1/24")
        XCTAssertEqual(nat.outside.description, "203.0.113.1/24")
        XCTAssertEqual(nat.insideVLAN, 10)
        XCTAssertNil(nat.outsideVLAN)
        XCTAssertEqual(nat.timeouts.udp, 120)
    }

    /// Every value is checked while parsing, before any interface is looked at: these lines
    /// name interfaces that do not exist, and still fail as usage errors.
    func testNatAndVlanValuesAreUsageErrors() {
        XCTAssertEqual(usageError("nosuch0 nosuch1 --vlan-nat --inside 192.168.1.1/24"),
                       "--vlan-nat needs --outside: the gateway's address on each side; \(NatConfig.example)")
        XCTAssertEqual(usageError("nosuch0 nosuch1 --vlan-nat --inside 192.168.1.1/24 --outside 192.168.1.2/24"),
                       "--inside 192.168.1.1/24 and --outside 192.168.1.2/24 overlap; the two sides need separate subnets")
        XCTAssertEqual(usageError("nosuch0 nosuch1 --vlan-nat --inside 10.0.0.1/8 --outside 1.2.3.4/24 --timeout-udp 9x"),
                       "--timeout-udp 9x: expected seconds, e.g. 300, 300s, 5m or 2h4m")
        XCTAssertEqual(usageError("nosuch0 nosuch1 --vlan-map 10:5000"),
                       "--vlan-map 10:5000: '5000' is not a VLAN id; VIDs are 1-4094 (0 alone means untagged)")
        XCTAssertEqual(usageError("nosuch0 nosuch1 --filter=(")?.hasPrefix("--filter '(': "), true)
    }

    func testUsageErrorsSayWhatIsWrong() {
        XCTAssertEqual(usageError("eth0 eth0"), "IN and OUT are both 'eth0': give two different interfaces")
        XCTAssertEqual(usageError("eth0"), "missing the OUT interface: forwarder IN OUT [options]")
        XCTAssertNotNil(usageError("")?.contains("missing interfaces"))
        XCTAssertEqual(usageError("a b --burst x"), "--burst: 'x' is not a whole number")
        XCTAssertEqual(usageError("a b --burst 0"), "--burst: 0 is out of range; use 1 to 1024")
        XCTAssertEqual(usageError("a b --alloc slab"), "--alloc: 'slab' is not an allocator; use cache or plain")
        XCTAssertEqual(usageError("a b --duration -1"), "--duration: -1 must be more than 0 seconds (and at most a year)")
        XCTAssertEqual(usageError("a b --frobnicate"), "unknown option '--frobnicate' (see forwarder --help)")
        XCTAssertEqual(usageError("a b --stats"), "--stats needs a value (see forwarder --help)")
        XCTAssertEqual(usageError("a b --inside 10.0.0.1/24"), "--inside only applies with --vlan-nat")
        XCTAssertEqual(usageError("a b --cache-preset linux"),
                       "--cache-preset: 'linux' is not a preset; use kernel-2021 or kernel-2025")
        XCTAssertNotNil(usageError("a b --vlan-nat --vlan-map 1:2"))
        XCTAssertNotNil(usageError("a b c"))
    }

    func testHelpAndVersion() throws {
        guard case .help = try Options.parse(["--help"]) else { return XCTFail("--help") }
        guard case .version = try Options.parse(["eth0", "--version"]) else { return XCTFail("--version") }
    }

    func testUserAndGroupAreLookedUpAtParseTime() throws {
        XCTAssertNil(try parse("a b").privileges)
        let nobody = try XCTUnwrap(try parse("a b --user nobody").privileges)
        XCTAssertEqual(nobody.uid, 65534)
        XCTAssertEqual(nobody.gid, 65534, "nobody's primary group (nogroup)")
        let root = try XCTUnwrap(try parse("a b --user nobody --group root").privileges)
        XCTAssertEqual(root.uid, 65534)
        XCTAssertEqual(root.gid, 0)
        XCTAssertEqual(usageError("a b --user no-such-user-xyz"), "--user: no such user 'no-such-user-xyz'")
        XCTAssertEqual(usageError("a b --user nobody --group no-such-group-xyz"),
                       "--group: no such group 'no-such-group-xyz'")
        XCTAssertEqual(usageError("a b --group nogroup"), "--group only applies with --user")
        XCTAssertEqual(usageError("a b --user="), "--user: the name is empty")
    }
}
