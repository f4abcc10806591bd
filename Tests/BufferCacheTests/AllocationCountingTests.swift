import XCTest
import CMallocCounter
@testable import BufferCache

/// In the spirit of swift-nio's allocation-counter tests: the cache's steady state must not call
/// malloc at all, and the test must fail the day someone adds one to the path.
final class AllocationCountingTests: XCTestCase {
    let cycles = 10_000

    /// Bursts of 32 through getBulk/putBulk and single get/put, as the pipeline does.
    func run<A: HeadAllocator & ~Copyable>(_ allocator: inout A, cycles: Int,
                                           burst: UnsafeMutablePointer<PacketHead>) {
        for _ in 0..<(cycles / 64) {
            let n = allocator.getBulk(into: burst, count: 32)
            for i in 0..<n { burst[i].length = 60 }
            allocator.putBulk(burst, count: n)
            for _ in 0..<32 {
                if let h = allocator.get() { allocator.put(h) }
            }
        }
    }

    func testCacheMakesNoAllocationAfterWarmUp() {
        let burst = UnsafeMutablePointer<PacketHead>.allocate(capacity: 32)
        defer { burst.deallocate() }
        var cache = HeadCache(pool: HeadPool(), configuration: .kernel2021)!
        run(&cache, cycles: 1_000, burst: burst)
        let before = cmc_thread_allocations()
        run(&cache, cycles: cycles, burst: burst)
        let after = cmc_thread_allocations()
        XCTAssertEqual(after - before, 0, "cache mode must not malloc per packet")
        XCTAssertEqual(cache.counters.gets, UInt64(1_000 / 64 * 64 + cycles / 64 * 64))
    }

    func testPlainMakesTwoAllocationsPerPacket() {
        let burst = UnsafeMutablePointer<PacketHead>.allocate(capacity: 32)
        defer { burst.deallocate() }
        var plain = PlainAllocator()
        run(&plain, cycles: 1_000, burst: burst)
        let before = cmc_thread_allocations()
        run(&plain, cycles: cycles, burst: burst)
        let made = cmc_thread_allocations() - before
        let packets = UInt64(cycles / 64 * 64)
        XCTAssertGreaterThanOrEqual(made, 2 * packets, "the interposer must see every malloc")
        XCTAssertLessThanOrEqual(made, 2 * packets + 16)
    }

    /// Heads for frames built elsewhere (an AF_XDP port's RX): plain mallocs the head only, as
    /// `napi_build_skb` allocates only the skb; built around a frame, released, put: one free.
    func testPlainHeadsForFramesMakeOneAllocationPerPacket() {
        let burst = UnsafeMutablePointer<PacketHead>.allocate(capacity: 32)
        defer { burst.deallocate() }
        let frame = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 64)
        defer { frame.deallocate() }
        var plain = PlainAllocator()
        var wrong = 0
        // One untimed burst first: whatever the runtime allocates once (metadata) is not per packet.
        plain.putBulk(burst, count: plain.getBulkForFrames(into: burst, count: 32))
        let gotBefore = plain.counters.gets
        let before = cmc_thread_allocations()
        for _ in 0..<100 {
            let n = plain.getBulkForFrames(into: burst, count: 32)
            for i in 0..<n {
                if burst[i].meta.pointee.capacity != 0 { wrong += 1 }  // no buffer of its own
                burst[i].build(around: frame, address: 4096, capacity: 2048, dataOffset: 256, length: 60, wireLength: 60)
                if burst[i].data != frame + 256 { wrong += 1 }
                if burst[i].releaseFrame() != 4096 { wrong += 1 }
            }
            plain.putBulk(burst, count: n)
        }
        let made = cmc_thread_allocations() - before
        XCTAssertEqual(wrong, 0)
        XCTAssertGreaterThanOrEqual(made, 100 * 32, "the interposer must see every malloc")
        XCTAssertLessThanOrEqual(made, 100 * 32 + 16, "one malloc per packet, not two")
        XCTAssertEqual(plain.counters.gets - gotBefore, 100 * 32)
        XCTAssertEqual(plain.counters.puts, 101 * 32)
    }

    final class Box { var value = 0 }

    /// The counter counts in every build: the interposer in a normal build, the sanitizer's
    /// malloc hooks under ASan/TSan (counter.c). Swift objects are each counted, so the
    /// zero-allocation tests above mean the same thing under a sanitizer; an over-aligned
    /// allocation is counted too, except under TSan (whose hooks skip the aligned entry points).
    func testCounterSeesSwiftAllocationsInThisBuild() {
        let mode = cmc_counting_mode()
        let how = ["nothing (hooks not installed)", "the malloc interposer", "AddressSanitizer's malloc hooks",
                   "ThreadSanitizer's malloc hooks"][Int(mode)]
        print("CMallocCounter: counting through \(how)")
        XCTAssertNotEqual(mode, 0, "the sanitizer's malloc hooks could not be installed")
        var boxes: [Box] = []
        boxes.reserveCapacity(100)
        let before = cmc_thread_allocations()
        for _ in 0..<100 { boxes.append(Box()) }
        let objects = cmc_thread_allocations() - before
        XCTAssertEqual(boxes.count, 100)
        XCTAssertGreaterThanOrEqual(objects, 100, "every swift_allocObject is counted")
        XCTAssertLessThanOrEqual(objects, 105)
        let alignedBefore = cmc_thread_allocations()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 64)
        let aligned = cmc_thread_allocations() - alignedBefore
        raw.deallocate()
        XCTAssertEqual(aligned, mode == 3 ? 0 : 1, "an over-aligned allocation (posix_memalign/aligned_alloc)")
    }
}
