import XCTest
import Synchronization
import BufferCache
import Glibc
@testable import Pipeline
import ProcessControl

/// The control socket's way into a worker: a job posted to its mailbox runs on the worker's own
/// thread, between bursts, even while the worker sleeps in poll() (its doorbell wakes it).
final class WorkerMailboxTests: XCTestCase {
    /// Forwards every frame and remembers how many it saw and on which thread; sleeps long when
    /// idle, so only the doorbell can wake it in time.
    struct CountingBridge: FrameProcessor {
        var frames = 0
        var thread: pthread_t?
        var idleTimeoutMilliseconds: Int32 { 60_000 }
        mutating func process<A: HeadAllocator & ~Copyable>(
            _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
            frames += 1
            thread = pthread_self()
            return .forward(side.other)
        }
    }

    final class Answer: @unchecked Sendable {
        var frames = -1
        var sameThread = false
    }

    func testJobRunsOnTheWorkerThread() throws {
        let frames = 1000
        let mailbox = WorkerMailbox<CountingBridge>()
        let stop = Atomic<Bool>(false)
        var wake: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&wake), 0)
        defer { close(wake[0]); close(wake[1]) }
        let wakeRead = wake[0]
        let slot = StatsSlot<NoCounters>()
        let frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00] + [UInt8](repeating: 0, count: 46)
        let thread = JoinableThread(name: "mailbox test") {
            var worker = Worker(allocator: PlainAllocator(), processor: CountingBridge(),
                                inPort: MemoryPort(frames: [frame], budget: frames), outPort: MemoryPort(),
                                inputs: [.inside], settings: WorkerSettings(), slot: slot, mailbox: mailbox)
            worker.outPort.keepSent = false
            try? worker.run(stop: stop, wakeDescriptor: wakeRead)
        }
        // Until the worker has forwarded every frame (each job also shows it answers while busy).
        let answer = Answer()
        let deadline = monotonicNanoseconds() + 30_000_000_000
        while answer.frames < frames && monotonicNanoseconds() < deadline {
            XCTAssertTrue(mailbox.run(timeout: 5) { p in answer.frames = p.frames })
            usleep(1000)
        }
        // Now it sleeps in poll() for up to 60 s: only the doorbell can get the next job run in time.
        usleep(100_000)
        answer.frames = -1
        let ran = mailbox.run(timeout: 5) { p in
            answer.frames = p.frames
            answer.sameThread = p.thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        }
        stop.store(true, ordering: .relaxed)
        var byte: UInt8 = 1
        _ = write(wake[1], &byte, 1)
        thread.join()
        XCTAssertTrue(ran, "the sleeping worker was not woken by its mailbox's doorbell")
        XCTAssertEqual(answer.frames, frames)
        XCTAssertTrue(answer.sameThread, "the job ran on another thread than the worker's")
    }

    func testJobNobodyTakesIsWithdrawn() {
        let mailbox = WorkerMailbox<CountingBridge>()
        let answer = Answer()
        XCTAssertFalse(mailbox.run(timeout: 0.05) { _ in answer.frames = 1 })
        var processor = CountingBridge()
        mailbox.serve(&processor)
        XCTAssertEqual(answer.frames, -1, "a withdrawn job ran later")
        // The mailbox is usable again.
        let queue = DispatchQueue(label: "server")
        let stop = Atomic<Bool>(false)
        let served = Atomic<Int>(0)
        queue.async {
            var p = CountingBridge()
            p.frames = 7
            while !stop.load(ordering: .relaxed) { mailbox.serve(&p); usleep(100) }
            served.store(p.frames, ordering: .relaxed)
        }
        XCTAssertTrue(mailbox.run(timeout: 5) { p in answer.frames = p.frames; p.frames += 1 })
        stop.store(true, ordering: .relaxed)
        queue.sync {}
        XCTAssertEqual(answer.frames, 7)
        XCTAssertEqual(served.load(ordering: .relaxed), 8, "the job changed the worker's processor")
    }
}
