import Pipeline
import PcapIO
import VethFixtures
import XCTest

/// The libpcap port set on a real veth pair: one handle per worker on each interface, the
/// fanout group id retried past another program's group, the kernel counters per interface.
final class PcapPortSetTests: XCTestCase {
    private var veth: VethPair?

    override func tearDown() {
        veth?.delete()
        veth = nil
        super.tearDown()
    }

    private func makePair(_ tag: String) throws -> VethPair {
        try requireRoot("AF_PACKET sockets and creating veth pairs")
        let pair = try VethPair(prefix: "pps", tag: tag)
        veth = pair
        return pair
    }

    private func options(_ name: String) throws -> CaptureOptions {
        var o = CaptureOptions()
        o.fanout = FanoutSettings(group: try XCTUnwrap(FanoutSettings.groupID(interface: name)))
        return o
    }

    /// Another program's group on the first id (another mode): the set takes the next id.
    func testAGroupIdInUseIsPassedOver() throws {
        let pair = try makePair("r")
        let a = try options(pair.a), b = try options(pair.b)
        var foreign = a
        foreign.fanout?.mode = .cpu
        let holder = try PcapPort.Handle(name: pair.a, options: foreign)
        let set = try PcapPortSet((pair.a, pair.b), options: (a, b), workers: 2)
        XCTAssertEqual(set.workers, 2)
        XCTAssertEqual(set.handles.map(\.0.name), [pair.a, pair.a])
        XCTAssertEqual(set.handles.map(\.1.name), [pair.b, pair.b])
        let kernel = set.report().kernel
        XCTAssertEqual(kernel.map(\.interface), [pair.a, pair.b])
        XCTAssertNotNil(kernel[0].counters)
        XCTAssertNil(set.close(detach: true))
        _ = holder
    }

    /// Every id tried is taken: the error names the interface and says why.
    func testEveryIdInUseIsAnErrorNamingTheInterface() throws {
        let pair = try makePair("f")
        let a = try options(pair.a), b = try options(pair.b)
        let holders = try (0..<8).map { attempt -> PcapPort.Handle in
            var foreign = a
            foreign.fanout?.group = a.fanout!.group &+ UInt16(attempt) &* 0x1000
            foreign.fanout?.mode = .cpu
            return try PcapPort.Handle(name: pair.a, options: foreign)
        }
        XCTAssertThrowsError(try PcapPortSet((pair.a, pair.b), options: (a, b), workers: 2)) { error in
            let e = error as? PortSetError
            XCTAssertEqual(e?.interface, pair.a)
            XCTAssertTrue(e?.message.hasPrefix("\(pair.a): cannot join fanout group") ?? false, "\(error)")
        }
        _ = holders
    }
}
