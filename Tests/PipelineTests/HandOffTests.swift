import XCTest
import Synchronization
import BufferCache
import Glibc
@testable import Pipeline
import ProcessControl

/// Two workers on threads, each receiving frames of which half belong to the other: the lanes,
/// the doorbells and the stop barrier, with both remote-free policies. Run under ThreadSanitizer
/// by scripts/sanitize.sh.
final class HandOffTests: XCTestCase {
    func run(policy: HeadCache.RemoteFreePolicy, frames: Int, laneCapacity: Int = 4096) throws -> (stats: [WorkerStats<NoCounters>], sent: [Int], pool: HeadPool) {
        let pool = HeadPool()
        let frames01 = [ownerFrame(0), ownerFrame(1)]
        let (stats, sent) = try runTwoWorkers(frames: frames, laneCapacity: laneCapacity) { index, endpoint, slot, results, wake in
            var config = HeadCache.Configuration.kernel2021
            config.remoteFrees = policy
            var worker = Worker(allocator: HeadCache(pool: pool, configuration: config)!,
                                processor: OwnerByByte(index: index, workers: 2),
                                inPort: MemoryPort(frames: frames01, budget: frames), outPort: MemoryPort(),
                                inputs: [.inside], settings: WorkerSettings(), slot: slot, handOff: endpoint)
            worker.outPort.keepSent = false
            try worker.run(stop: results.stop, wakeDescriptor: wake)
            return worker.outPort.sentCount
        }
        return (stats, sent, pool)
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
