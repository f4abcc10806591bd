import XCTest
import Synchronization
import BufferCache
import Glibc
@testable import Pipeline
import ProcessControl

/// Owns a frame by its first payload byte (mod the worker count): the shape of NAT's ownership
/// (a field of the frame names the worker), without NAT.
private struct OwnerByByte: FrameProcessor {
    let index: Int
    let workers: Int

    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        let owner = Int(head.data.load(fromByteOffset: 14, as: UInt8.self)) % workers
        return owner == index ? .forward(side.other) : .handOff(worker: owner)
    }
}

/// Two workers on threads, each receiving frames of which half belong to the other: the lanes,
/// the doorbells and the stop barrier, with both remote-free policies. Run under ThreadSanitizer
/// by scripts/sanitize.sh.
final class HandOffTests: XCTestCase {
    func frame(_ owner: UInt8) -> [UInt8] {
        [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, owner] + (0..<45).map { UInt8($0) }
    }

    final class Results: Sendable {
        let stop = Atomic<Bool>(false)
        let sent0 = Atomic<Int>(0)
        let sent1 = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
    }

    func run(policy: HeadCache.RemoteFreePolicy, frames: Int, laneCapacity: Int = 4096) throws -> (stats: [WorkerStats<NoCounters>], sent: [Int], pool: HeadPool) {
        let pool = HeadPool()
        let mesh = HandOffMesh(workers: 2, laneCapacity: laneCapacity)
        let results = Results()
        let slots = [StatsSlot<NoCounters>(), StatsSlot<NoCounters>()]
        var wake: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&wake), 0)
        defer { close(wake[0]); close(wake[1]) }
        let wakeRead = wake[0]
        let frames01 = [frame(0), frame(1)]
        let threads = (0..<2).map { index in
            JoinableThread(name: "worker test") {
                var config = HeadCache.Configuration.kernel2021
                config.remoteFrees = policy
                var worker = Worker(allocator: HeadCache(pool: pool, configuration: config)!,
                                    processor: OwnerByByte(index: index, workers: 2),
                                    inPort: MemoryPort(frames: frames01, budget: frames), outPort: MemoryPort(),
                                    inputs: [.inside], settings: WorkerSettings(), slot: slots[index],
                                    handOff: HandOffEndpoint(mesh: mesh, index: index))
                worker.outPort.keepSent = false
                do {
                    try worker.run(stop: results.stop, wakeDescriptor: wakeRead)
                } catch {
                    results.failures.add(1, ordering: .relaxed)
                }
                if index == 0 {
                    results.sent0.store(worker.outPort.sentCount, ordering: .relaxed)
                } else {
                    results.sent1.store(worker.outPort.sentCount, ordering: .relaxed)
                }
            }
        }
        // Until both have received everything and every frame is sent or counted (or 60 s).
        let deadline = monotonicNanoseconds() + 60_000_000_000
        while monotonicNanoseconds() < deadline {
            let s = slots.compactMap { $0.read() }
            if s.count == 2 {
                let rx = s.map(\.directions.0.rxFrames).reduce(0, +)
                let done = s.map { $0.directions.0.txFrames + $0.directions.0.dropsTotal }.reduce(0, +)
                if rx == UInt64(2 * frames) && done == rx { break }
            }
            usleep(1_000)
        }
        results.stop.store(true, ordering: .relaxed)
        var byte: UInt8 = 1
        XCTAssertEqual(write(wake[1], &byte, 1), 1)
        for t in threads { t.join() }
        XCTAssertEqual(results.failures.load(ordering: .relaxed), 0)
        XCTAssertEqual(mesh.queued, 0, "no head is left on a lane")
        return (try slots.map { try XCTUnwrap($0.read()) }, [results.sent0.load(ordering: .relaxed), results.sent1.load(ordering: .relaxed)], pool)
    }

    @discardableResult
    func check(policy: HeadCache.RemoteFreePolicy, laneCapacity: Int = 4096) throws -> [WorkerStats<NoCounters>] {
        let frames = 20_000
        let (stats, sent, pool) = try run(policy: policy, frames: frames, laneCapacity: laneCapacity)
        for (i, s) in stats.enumerated() {
            let other = stats[1 - i]
            XCTAssertEqual(s.directions.0.rxFrames, UInt64(frames))
            XCTAssertEqual(s.handOffs.sent, UInt64(frames / 2) - s.handOffs.dropped, "half of what worker \(i) received is the other's")
            XCTAssertEqual(s.handOffs.received, other.handOffs.sent, "every frame put on a lane is taken off it")
            XCTAssertEqual(UInt64(sent[i]), s.directions.0.txFrames)
            XCTAssertEqual(s.directions.0[.handOff], s.handOffs.dropped)
        }
        let total = stats.map { $0.directions.0.txFrames + $0.directions.0.dropsTotal }.reduce(0, +)
        XCTAssertEqual(total, UInt64(2 * frames), "every frame is sent or counted as a drop")
        XCTAssertGreaterThan(stats.map(\.handOffs.received).reduce(0, +), 0)
        let a = stats[0].allocator + stats[1].allocator
        switch policy {
        case .returnHome:
            XCTAssertEqual(a.remoteFrees, stats.map(\.handOffs.received).reduce(0, +), "each head handed over goes home")
            XCTAssertEqual(a.adopted, 0)
        case .adopt:
            XCTAssertEqual(a.adopted, stats.map(\.handOffs.received).reduce(0, +), "each head handed over is adopted")
            XCTAssertEqual(a.remoteFrees, 0)
        }
        XCTAssertEqual(a.inUse, 0)
        XCTAssertEqual(pool.stats.outstanding, 0, "every head is back in the pool")
        return stats
    }

    func testHandedOffHeadsGoHome() throws { try check(policy: .returnHome) }

    func testHandedOffHeadsAreAdopted() throws { try check(policy: .adopt) }

    /// A lane too small for a burst drops under `hand_off`, counted, and nothing leaks.
    func testAFullLaneDropsAndCounts() throws {
        let stats = try check(policy: .returnHome, laneCapacity: 2)
        XCTAssertGreaterThan(stats.map(\.handOffs.dropped).reduce(0, +), 0)
    }
}
