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
}
