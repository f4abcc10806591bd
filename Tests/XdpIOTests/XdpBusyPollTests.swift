import XCTest
import Glibc
@testable import XdpIO

/// `--poll busy` over AF_XDP: which socket options are set, which refusal leaves which out,
/// and what the start-up note says (the kernel's answers are played by `set`).
final class XdpBusyPollTests: XCTestCase {
    let prefer: Int32 = 2, busyPoll: Int32 = 1, budget: Int32 = 3

    /// Applies to 4 sockets with `refuse(socket, option)` (0: taken); the outcome and the calls.
    func apply(_ refuse: (Int, Int32) -> Int32 = { _, _ in 0 }) -> (XdpBusyPoll.Outcome, [(Int, Int32, Int32)]) {
        var calls: [(Int, Int32, Int32)] = []
        let outcome = XdpBusyPoll(budget: 32).apply(sockets: 4) { socket, option, value in
            calls.append((socket, option, value))
            return refuse(socket, option)
        }
        return (outcome, calls)
    }

    func testEverythingTaken() {
        let (o, calls) = apply()
        XCTAssertTrue(o.prefer && o.busyPoll && o.budget)
        XCTAssertEqual(calls.count, 12)
        XCTAssertTrue(calls.contains { $0 == (3, busyPoll, 20) })
        XCTAssertTrue(calls.contains { $0 == (0, budget, 32) })
        XCTAssertTrue(calls.contains { $0 == (2, prefer, 1) })
        XCTAssertEqual(o.note, "--poll busy: SO_PREFER_BUSY_POLL, SO_BUSY_POLL 20 µs, SO_BUSY_POLL_BUDGET 32 on every socket; "
            + "the worker calls recvfrom on every empty poll")
    }

    func testAnOldKernelKeepsSoBusyPollAlone() {
        let (o, calls) = apply { _, option in option == 1 ? 0 : ENOPROTOOPT }
        XCTAssertFalse(o.prefer)
        XCTAssertTrue(o.busyPoll)
        XCTAssertFalse(o.budget)
        XCTAssertFalse(calls.contains { $0.1 == 3 }, "no budget without SO_PREFER_BUSY_POLL")
        XCTAssertEqual(o.note, "--poll busy: SO_BUSY_POLL 20 µs on every socket; refused: SO_PREFER_BUSY_POLL (the kernel has "
            + "no such option (Linux 5.11 or later)); the worker calls recvfrom on every empty poll")
    }

    func testOneSocketRefusingCountsForAll() {
        let (o, _) = apply { socket, option in socket == 2 && option == 1 ? EPERM : 0 }
        XCTAssertTrue(o.prefer)
        XCTAssertFalse(o.busyPoll)
        XCTAssertTrue(o.note.hasSuffix("refused: SO_BUSY_POLL (needs CAP_NET_ADMIN); the worker polls the rings only"), o.note)
    }

    func testNothingTaken() {
        let (o, _) = apply { _, _ in EPERM }
        XCTAssertFalse(o.prefer || o.busyPoll || o.budget)
        XCTAssertTrue(o.note.hasPrefix("--poll busy: no kernel busy polling; refused: SO_PREFER_BUSY_POLL (needs CAP_NET_ADMIN), "
            + "SO_BUSY_POLL (needs CAP_NET_ADMIN)"), o.note)
    }
}
