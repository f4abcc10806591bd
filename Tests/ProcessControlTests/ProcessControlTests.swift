import Foundation
import Glibc
import ProcessControl
import Synchronization
import XCTest

/// Named threads, the first failure, and the stop and snapshot requests behind their pipes.
final class ProcessControlTests: XCTestCase {
    func testThreadRunsUnderItsNameAndJoins() throws {
        let seen = Mutex<String?>(nil)
        let thread = JoinableThread(name: "pc-test-thread") {
            let comm = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
            seen.withLock { $0 = comm }
        }
        thread.join()
        XCTAssertEqual(seen.withLock { $0 }, "pc-test-thread\n")
    }

    func testFirstFailureWins() {
        let box = FailureBox()
        XCTAssertNil(box.message)
        let threads = (0..<4).map { i in JoinableThread(name: "pc-fail-\(i)") { box.record("failure \(i)") } }
        for t in threads { t.join() }
        box.record("late")
        XCTAssertNotNil(box.message)
        XCTAssertNotEqual(box.message, "late")
    }

    /// One test for the process-wide state: install once, then a SIGUSR1 is a snapshot request
    /// (not a stop), and a stop request wakes a waiter at once and stays set.
    func testSignalsAndStopRequests() {
        StopControl.install()
        XCTAssertFalse(StopControl.takeSnapshotRequest())
        kill(getpid(), SIGUSR1)
        XCTAssertFalse(StopControl.wait(seconds: 5), "a snapshot request wakes the waiter without stopping")
        XCTAssertTrue(StopControl.takeSnapshotRequest())
        XCTAssertFalse(StopControl.takeSnapshotRequest(), "taken once")
        XCTAssertNil(StopControl.stopSignal)
        let start = Date()
        StopControl.request()
        XCTAssertTrue(StopControl.wait(seconds: 5))
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "the stop pipe wakes the waiter at once")
        var fd = pollfd(fd: StopControl.pipe.read, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&fd, 1, 0), 1, "the stop pipe stays readable for every worker")
    }
}
