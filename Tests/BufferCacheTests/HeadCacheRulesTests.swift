import XCTest
@testable import BufferCache

/// The kernel's rules, one by one (net/core/skbuff.c, napi_skb_cache_get/put, 2021 constants).
final class HeadCacheRulesTests: XCTestCase {
    func makeCache(_ config: HeadCache.Configuration = .kernel2021, pool: HeadPool = HeadPool()) -> HeadCache {
        HeadCache(pool: pool, configuration: config)!
    }

    func testRefillsSixteenOnlyWhenEmpty() {
        var cache = makeCache()
        XCTAssertEqual(cache.cachedCount, 0)
        _ = cache.get()
        XCTAssertEqual(cache.counters.refills, 1)
        XCTAssertEqual(cache.counters.refillHeads, 16)
        XCTAssertEqual(cache.cachedCount, 15)
        for _ in 0..<15 { XCTAssertNotNil(cache.get()) }
        XCTAssertEqual(cache.counters.refills, 1, "no refill while heads remain")
        XCTAssertEqual(cache.cachedCount, 0)
        _ = cache.get()
        XCTAssertEqual(cache.counters.refills, 2)
        XCTAssertEqual(cache.cachedCount, 15)
    }

    func testGetIsLIFO() {
        var cache = makeCache()
        let a = cache.get()!, b = cache.get()!, c = cache.get()!
        let below = cache.cachedCount
        cache.put(a)
        cache.put(b)
        cache.put(c)
        XCTAssertEqual(cache.get(), c)
        XCTAssertEqual(cache.get(), b)
        XCTAssertEqual(cache.get(), a)
        XCTAssertEqual(cache.cachedCount, below)
    }

    func testFullCacheFlushesTheThirtyTwoMostRecentlyPushed() {
        let pool = HeadPool()
        var cache = makeCache(pool: pool)
        let heads = (0..<64).map { _ in cache.get()! }
        XCTAssertEqual(cache.cachedCount, 0)
        let freeBefore = pool.stats.freeHeads
        for h in heads.prefix(63) { cache.put(h) }
        XCTAssertEqual(cache.counters.flushes, 0, "63 heads fit")
        cache.put(heads[63])
        XCTAssertEqual(cache.counters.flushes, 1)
        XCTAssertEqual(cache.counters.flushHeads, 32)
        XCTAssertEqual(cache.cachedCount, 32)
        XCTAssertEqual(cache.cachedHeads, Array(heads.prefix(32)), "the oldest 32 stay, in order")
        XCTAssertEqual(pool.stats.freeHeads, freeBefore + 32)
        // The pool's top 32 are exactly the most recently pushed ones.
        let back = UnsafeMutablePointer<PacketHead>.allocate(capacity: 32)
        defer { back.deallocate() }
        XCTAssertEqual(pool.allocate(into: back, count: 32), 32)
        XCTAssertEqual(Set(UnsafeBufferPointer(start: back, count: 32)), Set(heads.suffix(32)))
        pool.release(back, count: 32)
    }

    func testKernel2025PresetFlushesThirtyTwoAtOneHundredTwentyEight() {
        var cache = makeCache(HeadCache.Configuration(preset: "kernel-2025")!)
        let heads = (0..<128).map { _ in cache.get()! }
        XCTAssertEqual(cache.counters.refills, 4, "128 heads in refills of 32")
        XCTAssertEqual(cache.counters.refillHeads, 128)
        for h in heads { cache.put(h) }
        XCTAssertEqual(cache.counters.flushes, 1)
        XCTAssertEqual(cache.cachedCount, 96)
    }

    func testPresets() {
        XCTAssertEqual(HeadCache.Configuration(preset: "kernel-2021"),
                       HeadCache.Configuration(capacity: 64, refill: 16, flush: 32))
        XCTAssertEqual(HeadCache.Configuration(preset: "kernel-2025"),
                       HeadCache.Configuration(capacity: 128, refill: 32, flush: 32))
        XCTAssertNil(HeadCache.Configuration(preset: "kernel-2030"))
    }

    func testHeadIsClearedOnGetNotOnPut() {
        let geometry = HeadGeometry.default
        var cache = makeCache()
        let h = cache.get()!
        XCTAssertEqual(h.headroom, geometry.headroom)
        XCTAssertEqual(h.length, 0)
        XCTAssertEqual(h.meta.pointee.owner, cache.id)
        h.length = 100
        h.meta.pointee.wireLength = 1500
        _ = h.insertGap(at: 12, count: 4)
        cache.put(h)
        XCTAssertEqual(h.meta.pointee.wireLength, 1500, "put leaves the head alone")
        XCTAssertEqual(h.length, 104)
        let again = cache.get()!
        XCTAssertEqual(again, h)
        XCTAssertEqual(again.length, 0)
        XCTAssertEqual(again.headroom, geometry.headroom)
        XCTAssertEqual(again.meta.pointee.wireLength, 0)
    }

    func testBulkGetServesFromCacheThenRefillsThenAllocatesDirectly() {
        let pool = HeadPool()
        var cache = makeCache(pool: pool)
        let out = UnsafeMutablePointer<PacketHead>.allocate(capacity: 64)
        defer { out.deallocate() }
        // Leave 5 heads in the cache.
        let first = (0..<11).map { _ in cache.get()! }
        XCTAssertEqual(cache.cachedCount, 5)
        // 8 > 5: one refill of 16, then 8 come from the cache.
        XCTAssertEqual(cache.getBulk(into: out, count: 8), 8)
        XCTAssertEqual(cache.counters.refills, 2)
        XCTAssertEqual(cache.cachedCount, 5 + 16 - 8)
        XCTAssertEqual(cache.counters.hits, 10 + 5, "10 hits from singles, 5 held before the bulk get")
        let eight = Array(UnsafeBufferPointer(start: out, count: 8))
        cache.putBulk(out, count: 8)
        for h in first { cache.put(h) }
        // Drain, then ask for 40 with an empty cache: refill 16, 24 more straight from the pool.
        while cache.cachedCount > 0 { _ = cache.get() }
        let refillsBefore = cache.counters.refills
        XCTAssertEqual(cache.getBulk(into: out, count: 40), 40)
        XCTAssertEqual(cache.counters.refills, refillsBefore + 1)
        XCTAssertEqual(cache.cachedCount, 0)
        let forty = Set(UnsafeBufferPointer(start: out, count: 40))
        XCTAssertEqual(forty.count, 40, "no head handed out twice")
        for i in 0..<40 { XCTAssertEqual(out[i].meta.pointee.owner, cache.id); XCTAssertEqual(out[i].length, 0) }
        XCTAssertFalse(forty.isEmpty && eight.isEmpty)
    }

    func testCapGivesNilAndRecoversWhenHeadsComeBack() {
        let pool = HeadPool(.init(headsPerSlab: 8, maxHeads: 20))
        var cache = makeCache(pool: pool)
        var held: [PacketHead] = []
        while let h = cache.get() { held.append(h) }
        XCTAssertEqual(held.count, 20)
        XCTAssertEqual(Set(held).count, 20)
        XCTAssertEqual(cache.counters.refillFailures, 1)
        XCTAssertNil(cache.get())
        XCTAssertEqual(cache.counters.refillFailures, 2)
        XCTAssertEqual(pool.stats.slabs, 3, "8 + 8 + 4 heads")
        XCTAssertEqual(pool.stats.totalHeads, 20)
        let out = UnsafeMutablePointer<PacketHead>.allocate(capacity: 4)
        defer { out.deallocate() }
        XCTAssertEqual(cache.getBulk(into: out, count: 4), 0, "bulk get at the cap gives nothing")
        cache.put(held.removeLast())
        XCTAssertNotNil(cache.get(), "a head put back can be had again")
        XCTAssertEqual(pool.stats.highWater, 20)
    }

    func testCountersAreExact() {
        var cache = makeCache()
        var heads = (0..<80).map { _ in cache.get()! }   // 5 refills of 16, 75 hits, cache 0
        for h in heads { cache.put(h) }                  // flush at 64 -> 32, then 48
        XCTAssertEqual(cache.cachedCount, 48)
        heads = (0..<50).map { _ in cache.get()! }       // 48 hits, refill, 1 hit: cache 14
        XCTAssertEqual(cache.cachedCount, 14)
        for h in heads { cache.put(h) }                  // 14 + 50: flush at 64 -> 32
        var expected = AllocatorCounters()
        expected.gets = 130
        expected.hits = 75 + 49
        expected.refills = 6
        expected.refillHeads = 96
        expected.puts = 130
        expected.flushes = 2
        expected.flushHeads = 64
        XCTAssertEqual(cache.counters, expected)
        XCTAssertEqual(cache.counters.inUse, 0)
        XCTAssertEqual(cache.cachedCount, 32)
    }

    func testDeinitReturnsEveryHeadToThePool() {
        let pool = HeadPool()
        do {
            var cache = makeCache(pool: pool)
            let hs = (0..<50).map { _ in cache.get()! }
            for h in hs { cache.put(h) }
            XCTAssertGreaterThan(pool.stats.outstanding, 0)
        }
        XCTAssertEqual(pool.stats.outstanding, 0)
    }
}
