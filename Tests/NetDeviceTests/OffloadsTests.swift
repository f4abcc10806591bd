import NetDevice
import VethFixtures
import XCTest

/// Offloads read back what `ethtool -K` set, and the warnings name the fix for what is on.
final class OffloadsTests: VethTestCase {
    override class var vethPrefix: String { "ndv" }

    func testOffloadsReadBackWhatEthtoolSet() throws {
        let pair = try makeVeth("o")
        try shell("ethtool -K \(pair.a) tx on tso on gso on gro off")
        var o = try XCTUnwrap(Offloads.read(pair.a))
        XCTAssertEqual([o.txChecksum, o.tso, o.gso, o.gro], [1, 1, 1, 0])
        try shell("ethtool -K \(pair.a) tx off tso off gso off gro on")
        o = try XCTUnwrap(Offloads.read(pair.a))
        XCTAssertEqual([o.txChecksum, o.tso, o.gso, o.gro], [0, 0, 0, 1])
        try shell("ethtool -K \(pair.a) rxvlan off txvlan on")
        o = try XCTUnwrap(Offloads.read(pair.a))
        XCTAssertEqual([o.rxVlan, o.txVlan], [0, 1])
        XCTAssertEqual(o.lro, 0, "veth cannot do LRO")
        XCTAssertNil(Offloads.read("nosuch" + String(getpid(), radix: 16)))
    }

    func testWarningsNameTheFix() throws {
        let pair = try makeVeth("w")
        try shell("ethtool -K \(pair.a) gro on")
        try shell("ethtool -K \(pair.b) tx on tso on gso on")
        let warnings = try InterfaceFacts.lookup(pair.a).offloadWarnings()
        XCTAssertTrue(warnings.contains { $0.contains("ethtool -K \(pair.a) gro off") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("ethtool -K \(pair.b) tx off") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("ethtool -K \(pair.b) tso off gso off") }, "\(warnings)")

        try shell("ethtool -K \(pair.a) gro off")
        try shell("ethtool -K \(pair.b) tx off tso off gso off")
        XCTAssertEqual(try InterfaceFacts.lookup(pair.a).offloadWarnings(), [])
    }
}
