import XCTest
import Synchronization
import BufferCache
import Glibc
@testable import Pipeline
import ProcessControl

/// Workers on real threads, as the forwarder runs them: two threads each run `Worker.run` on
/// their own in-memory ports with their own cache over one shared `HeadPool`, while the main
/// thread reads their `StatsSlot`s (the stats hand-over); then the main thread stops them through
/// the stop flag and the wake pipe. Run under ThreadSanitizer by scripts/sanitize.sh.
final class WorkerThreadTests: XCTestCase {
    let frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00] + (0..<46).map { UInt8($0) }

    final class Shared: Sendable {
        let stop = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
    }

    func testTwoWorkersOnThreadsHandTheirStatsOver() throws {
        let frames = 50_000
        let pool = HeadPool()
        let shared = Shared()
        let slots = [StatsSlot<NoCounters>(), StatsSlot<NoCounters>()]
        var wake: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&wake), 0)
        defer { close(wake[0]); close(wake[1]) }
        let wakeRead = wake[0]
        let frame = self.frame

        let threads = slots.map { slot in
            JoinableThread(name: "worker test") {
                var worker = Worker(allocator: HeadCache(pool: pool)!, processor: TransparentBridge(),
                                    inPort: MemoryPort(frames: [frame], budget: frames), outPort: MemoryPort(),
                                    inputs: [.inside], settings: WorkerSettings(), slot: slot)
                worker.outPort.keepSent = false
                do {
                    try worker.run(stop: shared.stop, wakeDescriptor: wakeRead)
                } catch {
                    shared.failures.add(1, ordering: .relaxed)
                }
                if worker.outPort.sentCount != frames { shared.failures.add(1, ordering: .relaxed) }
            }
        }

        // The hand-over: read both slots while the workers run, until both have published every
        // frame (or 60 s pass). What a reader sees only grows.
        var last: [UInt64] = [0, 0]
        var reads = 0
        let deadline = monotonicNanoseconds() + 60_000_000_000
        while monotonicNanoseconds() < deadline {
            var finished = 0
            for (i, slot) in slots.enumerated() {
                guard let stats = slot.read() else { continue }
                reads += 1
                let d = stats.directions.0
                XCTAssertGreaterThanOrEqual(d.rxFrames, last[i], "published counters go back")
                XCTAssertLessThanOrEqual(d.txFrames, d.rxFrames)
                last[i] = d.rxFrames
                if d.rxFrames == UInt64(frames) && d.txFrames == UInt64(frames) { finished += 1 }
            }
            if finished == 2 { break }
            usleep(1_000)
        }
        shared.stop.store(true, ordering: .relaxed)
        var byte: UInt8 = 1
        XCTAssertEqual(write(wake[1], &byte, 1), 1)
        for t in threads { t.join() }

        XCTAssertGreaterThan(reads, 0)
        XCTAssertEqual(shared.failures.load(ordering: .relaxed), 0, "a worker failed or lost frames")
        for slot in slots {
            let stats = try XCTUnwrap(slot.read())
            XCTAssertEqual(stats.directions.0.rxFrames, UInt64(frames))
            XCTAssertEqual(stats.directions.0.txFrames, UInt64(frames))
            XCTAssertEqual(stats.directions.0.txBytes, UInt64(frames * frame.count))
            XCTAssertEqual(stats.directions.0.dropsTotal, 0)
        }
        XCTAssertEqual(pool.stats.outstanding, 0, "every head is back in the pool")
    }
}
