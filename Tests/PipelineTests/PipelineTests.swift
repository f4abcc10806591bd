import XCTest
import Synchronization
import CMallocCounter
import BufferCache
import Glibc
@testable import Pipeline
import VlanTranslation

final class PipelineTests: XCTestCase {
    let frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00] + (0..<46).map { UInt8($0) }

    func makeWorker<A: HeadAllocator & ~Copyable>(_ allocator: consuming A, frames: Int,
                                                  settings: WorkerSettings = WorkerSettings())
        -> Worker<A, TransparentBridge, MemoryPort> {
        Worker(allocator: allocator, processor: TransparentBridge(),
               inPort: MemoryPort(frames: [frame], budget: frames),
               outPort: MemoryPort(),
               inputs: [.inside], settings: settings, slot: StatsSlot<NoCounters>())
    }

    func testFramesCrossUnchangedAndEveryHeadComesBack() throws {
        let pool = HeadPool()
        let slot = StatsSlot<NoCounters>()
        var worker = Worker(allocator: HeadCache(pool: pool)!, processor: TransparentBridge(),
                            inPort: MemoryPort(frames: [frame], budget: 100),
                            outPort: MemoryPort(),
                            inputs: [.inside], settings: WorkerSettings(), slot: slot)
        var received = 0
        for _ in 0..<10 { received += try worker.step(now: 1) }
        XCTAssertEqual(received, 100)
        XCTAssertEqual(worker.outPort.sent.count, 100)
        XCTAssertTrue(worker.outPort.sent.allSatisfy { $0 == frame })
        worker.finish()
        let stats = try XCTUnwrap(slot.read())
        XCTAssertEqual(stats.directions.0.rxFrames, 100)
        XCTAssertEqual(stats.directions.0.txFrames, 100)
        XCTAssertEqual(stats.directions.0.txBytes, UInt64(100 * frame.count))
        XCTAssertEqual(stats.directions.0.dropsTotal, 0)
        _ = consume worker
        XCTAssertEqual(pool.stats.outstanding, 0, "no head leaked")
    }

    func testFullSocketIsRetriedThenDroppedAndCounted() throws {
        let pool = HeadPool()
        let slot = StatsSlot<NoCounters>()
        var settings = WorkerSettings()
        settings.txRetries = 2
        var worker = Worker(allocator: HeadCache(pool: pool)!, processor: TransparentBridge(),
                            inPort: MemoryPort(frames: [frame], budget: 32),
                            outPort: MemoryPort(),
                            inputs: [.inside], settings: settings, slot: slot)
        worker.outPort.refuseNextSends = 2
        _ = try worker.step(now: 1)
        XCTAssertEqual(worker.outPort.sentCount, 32, "two refusals are within the retry budget")
        worker.outPort.refuseNextSends = 3
        worker.inPort.remaining = 32
        _ = try worker.step(now: 2)
        XCTAssertEqual(worker.outPort.sentCount, 32, "three refusals exhaust it: the burst is dropped")
        worker.outPort.refuseFrameAt = 40
        worker.inPort.remaining = 32
        _ = try worker.step(now: 3)
        XCTAssertEqual(worker.outPort.sentCount, 32 + 31, "a refused frame is dropped, the rest go out")
        worker.finish()
        let d = try XCTUnwrap(slot.read()).directions.0
        XCTAssertEqual(d.rxFrames, 96)
        XCTAssertEqual(d.txFrames, 63)
        XCTAssertEqual(d[.txFailed], 33)
        _ = consume worker
        XCTAssertEqual(pool.stats.outstanding, 0)
    }

    func testOversizeAndTruncatedFramesAreDroppedAndCounted() throws {
        let pool = HeadPool()
        let slot = StatsSlot<NoCounters>()
        var settings = WorkerSettings()
        settings.mtu = (1500, 100)
        let big = [UInt8](frame[0..<14]) + [UInt8](repeating: 7, count: 101)   // 115 > 100 + 14
        var worker = Worker(allocator: HeadCache(pool: pool)!, processor: TransparentBridge(),
                            inPort: MemoryPort(frames: [big], budget: 5),
                            outPort: MemoryPort(),
                            inputs: [.inside], settings: settings, slot: slot)
        _ = try worker.step(now: 1)
        worker.inPort.setFrames([[UInt8](big.prefix(114))])
        worker.inPort.remaining = 3
        _ = try worker.step(now: 2)
        worker.finish()
        let d = try XCTUnwrap(slot.read()).directions.0
        XCTAssertEqual(d[.oversize], 5)
        XCTAssertEqual(d.txFrames, 3, "a frame of exactly MTU + 14 fits")
        _ = consume worker
        XCTAssertEqual(pool.stats.outstanding, 0)
    }

    /// swift-nio style: a burst through the whole pipeline (RX, process, TX, free) in cache
    /// mode must not call malloc once warmed up; plain mode calls it twice per frame.
    func testPipelineMakesNoAllocationPerFrameInCacheMode() throws {
        var worker = makeWorker(HeadCache(pool: HeadPool())!, frames: .max)
        worker.outPort.keepSent = false
        for _ in 0..<200 { _ = try worker.step(now: 1) }
        let before = cmc_thread_allocations()
        for i in 0..<2_000 { _ = try worker.step(now: UInt64(i) * 1_000_000) }  // publishes every 50 steps
        XCTAssertEqual(cmc_thread_allocations() - before, 0)
        XCTAssertEqual(worker.outPort.sentCount, 2_200 * 32)

        var plain = makeWorker(PlainAllocator(), frames: .max)
        plain.outPort.keepSent = false
        for _ in 0..<200 { _ = try plain.step(now: 1) }
        let plainBefore = cmc_thread_allocations()
        for i in 0..<2_000 { _ = try plain.step(now: UInt64(i) * 1_000_000) }
        let made = cmc_thread_allocations() - plainBefore
        XCTAssertGreaterThanOrEqual(made, 2 * 2_000 * 32, "the counter sees the plain allocator's mallocs")
    }

    /// The VLAN translation mode on the same path: a tag pushed on every frame, no malloc.
    func testVlanTranslationMakesNoAllocationPerFrame() throws {
        var worker = Worker(allocator: HeadCache(pool: HeadPool())!,
                            processor: VlanTranslator(map: try VlanMap(specs: ["0:20"], passUnmapped: false)),
                            inPort: MemoryPort(frames: [frame], budget: .max),
                            outPort: MemoryPort(),
                            inputs: [.inside], settings: WorkerSettings(), slot: StatsSlot<NoCounters>())
        worker.outPort.keepSent = false
        for _ in 0..<200 { _ = try worker.step(now: 1) }
        let before = cmc_thread_allocations()
        for i in 0..<2_000 { _ = try worker.step(now: UInt64(i) * 1_000_000) }
        XCTAssertEqual(cmc_thread_allocations() - before, 0)
        XCTAssertEqual(worker.outPort.sentCount, 2_200 * 32)
        worker.outPort.keepSent = true
        _ = try worker.step(now: 1)
        let tagged = worker.outPort.sent[0]
        XCTAssertEqual(tagged.count, frame.count + 4)
        XCTAssertEqual(Array(tagged[12..<16]), [0x81, 0x00, 0x00, 20], "an 802.1Q tag with VID 20 was pushed")
        XCTAssertEqual(Array(tagged[16...]), Array(frame[12...]))
    }

    func testDropReasonsFitTheirCounterArray() {
        XCTAssertLessThanOrEqual(DropReason.allCases.count, DirectionCounters().drops.count)
    }
}
