import XCTest
@testable import BufferCache

final class DebugCheckTests: XCTestCase {
    var debug: HeadCache.Configuration {
        HeadCache.Configuration(capacity: 64, refill: 16, flush: 32, debugChecks: true)
    }

    func testDoubleFreeIsDetectedAndNotCached() {
        var seen: [HeadCache.Violation] = []
        var cache = HeadCache(pool: HeadPool(), configuration: debug)!
        cache.onViolation = { seen.append($0) }
        let h = cache.get()!
        cache.put(h)
        let held = cache.cachedCount
        cache.put(h)
        XCTAssertEqual(cache.counters.doubleFrees, 1)
        XCTAssertEqual(seen, [.doubleFree(h)])
        XCTAssertEqual(cache.cachedCount, held, "a double-freed head is not cached twice")
        XCTAssertEqual(cache.get(), h)
        XCTAssertNotEqual(cache.get(), h, "and so is not handed out twice")
    }

    func testWriteAfterPutIsDetectedOnGet() {
        var seen: [HeadCache.Violation] = []
        var cache = HeadCache(pool: HeadPool(), configuration: debug)!
        cache.onViolation = { seen.append($0) }
        let h = cache.get()!
        h.length = 60
        let stale = h.data
        cache.put(h)
        stale.storeBytes(of: 0x42, toByteOffset: 10, as: UInt8.self)
        XCTAssertEqual(cache.get(), h)
        XCTAssertEqual(cache.counters.writesAfterPut, 1)
        XCTAssertEqual(seen, [.writeAfterPut(h, offset: HeadGeometry.default.headroom + 10)])
    }

    func testCleanHeadsRaiseNothing() {
        var cache = HeadCache(pool: HeadPool(), configuration: debug)!
        var count = 0
        cache.onViolation = { _ in count += 1 }
        for _ in 0..<300 {
            let h = cache.get()!
            h.length = 64
            h.data.storeBytes(of: 0xFF, as: UInt8.self)
            cache.put(h)
        }
        XCTAssertEqual(count, 0)
        XCTAssertEqual(cache.counters.doubleFrees + cache.counters.writesAfterPut, 0)
    }
}
