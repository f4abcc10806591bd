import XCTest
@testable import BufferCache

/// Per-thread counters are summed across workers for the stats line and the summaries.
final class AllocatorCountersTests: XCTestCase {
    func testSumCoversEveryCounter() {
        XCTAssertEqual(AllocatorCounters.fields.count, Mirror(reflecting: AllocatorCounters()).children.count,
                       "a counter missing from AllocatorCounters.fields would not be summed")
        var a = AllocatorCounters(), b = AllocatorCounters()
        for (i, field) in AllocatorCounters.fields.enumerated() {
            a[keyPath: field] = UInt64(i + 1)
            b[keyPath: field] = UInt64(100 * (i + 1))
        }
        let s = a + b
        for (i, field) in AllocatorCounters.fields.enumerated() {
            XCTAssertEqual(s[keyPath: field], UInt64(101 * (i + 1)))
        }
        XCTAssertEqual(s.gets, 101)
        XCTAssertEqual(s.adopted, 101 * 11)
        XCTAssertEqual(s.writesAfterPut, 101 * 13)
    }
}
