import XCTest
import Synchronization
import BufferCache
import Glibc
@testable import Pipeline
import ProcessControl

/// `--poll`: the parsing of the modes, and what the loop does after the last frame in each (sleep
/// at once, poll forever, poll for the spin then sleep), seen in the counters the worker
/// publishes, and that a stop ends every mode.
final class PollModeTests: XCTestCase {
    func testParsing() {
        XCTAssertEqual(PollMode("wait"), .wait)
        XCTAssertEqual(PollMode("busy"), .busy)
        XCTAssertEqual(PollMode("adaptive"), .adaptive(microseconds: PollMode.defaultAdaptiveMicroseconds))
        XCTAssertEqual(PollMode("adaptive:250"), .adaptive(microseconds: 250))
        XCTAssertEqual(PollMode("adaptive:1"), .adaptive(microseconds: 1))
        XCTAssertEqual(PollMode("adaptive:1000000"), .adaptive(microseconds: 1_000_000))
        for bad in ["", "Wait", "spin", "adaptive:", "adaptive:0", "adaptive:-5", "adaptive:1000001", "adaptive:1e3",
                    "adaptive:10us", "busy:10", "wait:1", " adaptive:10"] {
            XCTAssertNil(PollMode(bad), bad)
        }
    }

    func testDescriptionIsWhatParsingTakes() {
        for mode in [PollMode.wait, .busy, .adaptive(microseconds: 100), .adaptive(microseconds: 7)] {
            XCTAssertEqual(PollMode(mode.description), mode)
        }
        XCTAssertEqual(PollMode.adaptive(microseconds: 100).description, "adaptive:100")
    }

    func testSpin() {
        XCTAssertEqual(PollMode.wait.spinNanoseconds, 0)
        XCTAssertNil(PollMode.busy.spinNanoseconds)
        XCTAssertEqual(PollMode.adaptive(microseconds: 250).spinNanoseconds, 250_000)
    }

    func testCountersAdd() {
        var a = PollCounters(), b = PollCounters()
        a.busyNanoseconds = 5; a.emptyPolls = 1; a.wakeUps = 2; a.sleepNanoseconds = 3
        b.busyNanoseconds = 10; b.emptyPolls = 20; b.wakeUps = 30; b.sleepNanoseconds = 40
        let s = a + b
        XCTAssertEqual([s.busyNanoseconds, s.emptyPolls, s.wakeUps, s.sleepNanoseconds], [15, 21, 32, 43])
    }

    // MARK: the loop

    let frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00] + (0..<46).map { UInt8($0) }

    final class Flags: Sendable {
        let stop = Atomic<Bool>(false)
        let failed = Atomic<Bool>(false)
    }

    /// Runs a worker in `mode` on a thread over a memory port that hands out `frames` frames,
    /// lets it go on for `seconds` after starting, then stops it (writing the wake pipe only with
    /// `wakePipe`); the worker's final counters and how long the stop took to end the thread.
    func run(_ mode: PollMode, frames: Int = 1000, seconds: Double, wakePipe: Bool = true) throws
        -> (stats: WorkerStats<NoCounters>, stopSeconds: Double) {
        let pool = HeadPool()
        let flags = Flags()
        let slot = StatsSlot<NoCounters>()
        var wake: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&wake), 0)
        defer { close(wake[0]); close(wake[1]) }
        let wakeRead = wake[0], frame = self.frame
        var settings = WorkerSettings()
        settings.poll = mode
        let thread = JoinableThread(name: "poll test") {
            var worker = Worker(allocator: HeadCache(pool: pool)!, processor: TransparentBridge(),
                                inPort: MemoryPort(frames: [frame], budget: frames), outPort: MemoryPort(),
                                inputs: [.inside], settings: settings, slot: slot)
            worker.outPort.keepSent = false
            do { try worker.run(stop: flags.stop, wakeDescriptor: wakeRead) } catch { flags.failed.store(true, ordering: .relaxed) }
        }
        usleep(useconds_t(seconds * 1e6))
        let stopAt = monotonicNanoseconds()
        flags.stop.store(true, ordering: .relaxed)
        if wakePipe {
            var byte: UInt8 = 1
            XCTAssertEqual(write(wake[1], &byte, 1), 1)
        }
        thread.join()
        let stopSeconds = Double(monotonicNanoseconds() - stopAt) / 1e9
        XCTAssertFalse(flags.failed.load(ordering: .relaxed))
        let stats = try XCTUnwrap(slot.read())
        XCTAssertEqual(stats.directions.0.txFrames, UInt64(frames), "every frame forwarded")
        XCTAssertEqual(pool.stats.outstanding, 0)
        return (stats, stopSeconds)
    }

    func testWaitSleepsAfterTheLastFrameAndNeverSpins() throws {
        let r = try run(.wait, seconds: 0.2)
        XCTAssertEqual(r.stats.poll.busyNanoseconds, 0)
        XCTAssertEqual(r.stats.poll.emptyPolls, 0)
        XCTAssertGreaterThanOrEqual(r.stats.poll.wakeUps, 1, "it slept and the stop woke it")
        XCTAssertLessThan(r.stats.poll.wakeUps, 10)
        XCTAssertLessThan(r.stopSeconds, 2)
    }

    func testBusyNeverSleepsAndStopsWithoutTheWakePipe() throws {
        let r = try run(.busy, seconds: 0.2, wakePipe: false)
        XCTAssertEqual(r.stats.poll.wakeUps, 0)
        XCTAssertEqual(r.stats.poll.sleepNanoseconds, 0)
        XCTAssertGreaterThan(r.stats.poll.emptyPolls, 100)
        XCTAssertGreaterThan(r.stats.poll.busyNanoseconds, 50_000_000, "it polled for most of the 200 ms")
        XCTAssertLessThan(r.stopSeconds, 2, "the stop flag alone ends a busy worker")
    }

    func testAdaptivePollsForTheSpinThenSleeps() throws {
        // A 20 ms spin in a 600 ms run: it polls about 20 ms after the last frame, then sleeps
        // until the stop (had it gone on polling, the busy time would be near 600 ms).
        let r = try run(.adaptive(microseconds: 20_000), seconds: 0.6)
        XCTAssertGreaterThan(r.stats.poll.emptyPolls, 0)
        XCTAssertGreaterThanOrEqual(r.stats.poll.busyNanoseconds, 10_000_000)
        XCTAssertLessThan(r.stats.poll.busyNanoseconds, 300_000_000)
        XCTAssertGreaterThanOrEqual(r.stats.poll.wakeUps, 1)
        XCTAssertLessThan(r.stopSeconds, 2)
    }

    func testAdaptiveWithAShortSpinStopsPromptly() throws {
        let r = try run(.adaptive(microseconds: 1), seconds: 0.1)
        XCTAssertGreaterThanOrEqual(r.stats.poll.wakeUps, 1)
        XCTAssertLessThan(r.stopSeconds, 2)
    }
}
