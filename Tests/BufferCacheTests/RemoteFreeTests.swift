import XCTest
@testable import BufferCache

/// Frees by a cache that did not hand the head out, under both policies.
final class RemoteFreeTests: XCTestCase {
    let returnHome = HeadCache.Configuration(capacity: 64, refill: 16, flush: 32, remoteFrees: .returnHome)

    func testReturnHomeSendsTheHeadBackToItsOwner() {
        let pool = HeadPool()
        var home = HeadCache(pool: pool, configuration: returnHome)!
        var other = HeadCache(pool: pool, configuration: returnHome)!
        let h = home.get()!
        other.put(h)
        XCTAssertEqual(other.counters.remoteFrees, 1)
        XCTAssertEqual(other.counters.puts, 1)
        XCTAssertFalse(other.cachedHeads.contains(h), "the freeing cache does not keep it")
        while home.cachedCount > 0 { _ = home.get() }
        XCTAssertEqual(home.get(), h, "an empty home cache takes its remote frees before the pool")
        XCTAssertEqual(home.counters.remoteReturns, 1)
        XCTAssertEqual(home.counters.refills, 1, "no pool refill was needed")
    }

    func testReturnHomeBatchesARunIntoOneChain() {
        let pool = HeadPool()
        var home = HeadCache(pool: pool, configuration: returnHome)!
        var other = HeadCache(pool: pool, configuration: returnHome)!
        let out = UnsafeMutablePointer<PacketHead>.allocate(capacity: 32)
        defer { out.deallocate() }
        XCTAssertEqual(home.getBulk(into: out, count: 32), 32)
        let sent = Set(UnsafeBufferPointer(start: out, count: 32))
        other.putBulk(out, count: 32)
        XCTAssertEqual(other.counters.remoteFrees, 32)
        XCTAssertEqual(other.cachedCount, 0)
        while home.cachedCount > 0 { _ = home.get() }
        var back = Set<PacketHead>()
        for _ in 0..<32 { back.insert(home.get()!) }
        XCTAssertEqual(back, sent)
        XCTAssertEqual(home.counters.remoteReturns, 32)
    }

    func testAdoptKeepsTheHeadInTheFreeingCache() {
        let pool = HeadPool()
        let adopt = HeadCache.Configuration(capacity: 64, refill: 16, flush: 32, remoteFrees: .adopt)
        var home = HeadCache(pool: pool, configuration: adopt)!
        var other = HeadCache(pool: pool, configuration: adopt)!
        let h = home.get()!
        other.put(h)
        XCTAssertEqual(other.counters.remoteFrees, 0)
        XCTAssertEqual(other.cachedHeads.last, h)
        XCTAssertEqual(other.get(), h)
    }

    func testFreesToACacheThatIsGoneGoToThePool() {
        let pool = HeadPool()
        var other = HeadCache(pool: pool, configuration: returnHome)!
        var h: PacketHead?
        do {
            var home = HeadCache(pool: pool, configuration: returnHome)!
            h = home.get()
        }
        let outstanding = pool.stats.outstanding
        other.put(h!)
        XCTAssertEqual(pool.stats.outstanding, outstanding - 1)
        XCTAssertEqual(other.cachedCount, 0)
    }
}
