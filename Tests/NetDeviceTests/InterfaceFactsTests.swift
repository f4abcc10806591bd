import Foundation
import NetDevice
import PacketFormats
import VethFixtures
import XCTest

/// Facts as the kernel reports them, on lo and on veth pairs the tests create.
final class InterfaceFactsTests: VethTestCase {
    override class var vethPrefix: String { "ndv" }

    func testLoopback() throws {
        let lo = try InterfaceFacts.lookup("lo")
        XCTAssertEqual(lo.index, 1)
        XCTAssertEqual(lo.mtu, 65536)
        XCTAssertTrue(lo.up)
        XCTAssertEqual(lo.mac, EthernetAddress(bytes: [0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(lo.link, 1, "lo has no lower device: its iflink is itself")
        XCTAssertNil(lo.visibleVethPeer())
        XCTAssertEqual(InterfaceFacts.name(ofIndex: 1), "lo")
        XCTAssertNil(InterfaceFacts.name(ofIndex: 0))
        XCTAssertTrue(InterfaceFacts.availableNames().contains("lo"))
    }

    func testMissingNameThrowsNoSuchDeviceListingWhatExists() throws {
        let name = "nosuch" + String(getpid(), radix: 16)
        do {
            _ = try InterfaceFacts.lookup(name)
            XCTFail("\(name) was found")
        } catch {
            XCTAssertEqual(error.kind, .noSuchDevice, error.message)
            XCTAssertTrue(error.message.contains("'\(name)'"), error.message)
            let listed = try XCTUnwrap(error.message.components(separatedBy: "interfaces here: ").last)
            XCTAssertEqual(Set(listed.components(separatedBy: ", ")), Set(InterfaceFacts.availableNames()), error.message)
            XCTAssertTrue(listed.components(separatedBy: ", ").contains("lo"), error.message)
        }
    }

    func testNameNoInterfaceCanHaveIsNoSuchDevice() {
        // ifreq would cut this to 15 characters, which could be another interface's name.
        for name in ["", "abcdefghijklmnopq", "../lo"] {
            XCTAssertThrowsError(try InterfaceFacts.lookup(name), name) { error in
                XCTAssertEqual((error as? NetDeviceError)?.kind, .noSuchDevice, name)
            }
        }
        XCTAssertNil(Offloads.read("abcdefghijklmnopq"))
    }

    func testVethFactsAndVisiblePeer() throws {
        let pair = try makeVeth("p")
        try shell("ip link set \(pair.a) mtu 1400 address 02:00:5e:00:53:01")
        let a = try InterfaceFacts.lookup(pair.a)
        let b = try InterfaceFacts.lookup(pair.b)
        XCTAssertEqual(a.driver, "veth")
        XCTAssertEqual(a.mtu, 1400)
        XCTAssertEqual(a.mac, EthernetAddress(bytes: [0x02, 0x00, 0x5e, 0x00, 0x53, 0x01]))
        XCTAssertTrue(a.up)
        XCTAssertTrue(try runningAfterLinkwatch(pair.a, until: true), "both ends are up, so the carrier is on")
        XCTAssertEqual(a.link, b.index)
        XCTAssertEqual(b.link, a.index)
        XCTAssertEqual(a.visibleVethPeer()?.name, pair.b)
        XCTAssertEqual(b.visibleVethPeer()?.name, pair.a)
        XCTAssertEqual(InterfaceFacts.name(ofIndex: a.index), pair.a)
        XCTAssertTrue(Set([pair.a, pair.b]).isSubset(of: InterfaceFacts.availableNames()))

        try shell("ip link set \(pair.b) down")
        let downB = try InterfaceFacts.lookup(pair.b)
        XCTAssertFalse(downB.up)
        XCTAssertFalse(try runningAfterLinkwatch(pair.a, until: false), "the peer is down: no carrier")
    }

    /// The kernel changes the carrier (IFF_RUNNING) through linkwatch, which may run a moment
    /// after `ip link` returns (longer on a busy machine, as under the sanitizers): read the flag
    /// until it is `expected` or 3 s pass.
    private func runningAfterLinkwatch(_ name: String, until expected: Bool) throws -> Bool {
        var running = try InterfaceFacts.lookup(name).running
        var waited = 0
        while running != expected && waited < 300 {
            usleep(10_000)
            waited += 1
            running = try InterfaceFacts.lookup(name).running
        }
        return running
    }

    func testKernelAddresses() throws {
        XCTAssertTrue(kernelIPv4Addresses(on: "lo").contains("127.0.0.1/8"))
        let pair = try makeVeth("k")
        XCTAssertEqual(kernelIPv4Addresses(on: pair.a), [])
        try shell("ip addr add 192.0.2.1/24 dev \(pair.a)")
        XCTAssertEqual(kernelIPv4Addresses(on: pair.a), ["192.0.2.1/24"])
    }
}

final class InterfaceLookupTests: XCTestCase {
    func testIndexAndRxQueuesOfLoopback() {
        XCTAssertEqual(InterfaceFacts.index(of: "lo"), 1)
        XCTAssertEqual(InterfaceFacts.rxQueues(of: "lo"), 1, "sysfs lists queues/rx-0 for lo")
    }

    func testNoIndexOrQueuesForNamesThatAreNotThere() {
        for name in ["no-such-if0", "", "a/b", "..", String(repeating: "x", count: 16)] {
            XCTAssertNil(InterfaceFacts.index(of: name), name)
            XCTAssertNil(InterfaceFacts.rxQueues(of: name), name)
        }
    }
}
