import Pipeline
import XCTest
import XdpIO

/// The AF_XDP port set on veth pairs: the UMEM frame size from the MTU, `--workers auto` capped
/// by the RX queues, the start line, and the programs gone after close.
final class XdpPortSetTests: XdpVethTestCase {
    func testFrameSizeFollowsTheMTUAndAutoWorkersStopAtTheQueues() throws {
        let s = try makeVeths()
        let names = (s.xdpA, s.xdpB)
        for (mtu, frameSize) in [(1500, UInt32(2048)), (3000, UInt32(4096))] {
            let set = try XdpPortSet(names, options: XdpOptions(), workers: 4, workersAuto: true, mtu: mtu, snaplen: 2112,
                                     filter: "udp")
            XCTAssertEqual(set.workers, 1, "a veth with one RX queue: one worker")
            XCTAssertEqual(set.pairs[0].options.frameSize, frameSize, "MTU \(mtu)")
            XCTAssertEqual(set.notes.last?.message.hasPrefix("io: xdp, \(s.xdpA) "), true, "\(set.notes)")
            XCTAssertEqual(set.notes.last?.message.hasSuffix(", queue 0, copy"), true, "\(set.notes)")
            XCTAssertEqual(set.warnings, [])
            XCTAssertEqual(set.report().kernel.map(\.interface), [s.xdpA, s.xdpB])
            XCTAssertNil(set.close(detach: true))
            XCTAssertNil(XdpInterface.attachedProgram(s.xdpA), "the program comes off at close")
        }
    }

    func testMoreWorkersThanQueuesIsAnErrorNamingTheInterface() throws {
        let s = try makeVeths()
        XCTAssertThrowsError(try XdpPortSet((s.xdpA, s.xdpB), options: XdpOptions(), workers: 2, workersAuto: false, mtu: 1500,
                                            snaplen: 2112, filter: nil)) { error in
            let e = error as? PortSetError
            XCTAssertEqual(e?.interface, s.xdpA)
            XCTAssertTrue(e?.message.contains("need queues 0-1") ?? false, "\(error)")
        }
    }
}
