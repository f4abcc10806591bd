import Glibc
import VethFixtures
import XCTest
@testable import XdpIO

/// The marker file and the process identity it records, without an interface: an index no
/// interface has.
final class XdpProgramMarkerTests: XCTestCase {
    static let noInterface: Int32 = 2_000_000_000

    func testAProcessIsAliveOnlyWithItsOwnStartTime() {
        let me = XdpProcess.current
        XCTAssertNotEqual(me.start, 0, "/proc/self/stat has the start time")
        XCTAssertTrue(me.isAlive)
        XCTAssertFalse(XdpProcess(pid: me.pid, start: me.start + 1).isAlive, "a reused pid is another process")
        XCTAssertFalse(XdpProcess(pid: 0, start: me.start).isAlive)
        let child = fork()
        if child == 0 { _exit(0) }
        let started = XdpProcess(pid: child, start: 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        XCTAssertFalse(started.isAlive, "a reaped child")
    }

    func testAMarkerReadsBackWhatWasWrittenAndGoes() throws {
        try requireRoot("writing /run/forwarder/xdp")
        let index = XdpProgramMarkerTests.noInterface
        XdpProgramMarker.remove(index)
        XCTAssertNil(XdpProgramMarker.read(index))
        XdpProgramMarker.write(index, program: 4242)
        defer { XdpProgramMarker.remove(index) }
        XCTAssertEqual(XdpProgramMarker.read(index), XdpProgramMarker(owner: .current, program: 4242))
        XCTAssertTrue(XdpProgramMarker.markedInterfaces().contains(index))
        XdpProgramMarker.remove(index)
        XCTAssertNil(XdpProgramMarker.read(index))
        XCTAssertFalse(XdpProgramMarker.markedInterfaces().contains(index))
    }
}
