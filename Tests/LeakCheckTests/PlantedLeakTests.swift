import BufferCache
import XCTest

/// The leak that proves scripts/sanitize.sh's leak check can fail. LeakSanitizer matches a
/// suppression against every frame of a leak's stack, and every allocation a test makes has
/// XCTest's frames below it: a suppression too broad for XCTest hides the project's leaks too.
/// sanitize.sh leaves it out of the ASan suite run, then runs it alone and fails unless
/// LeakSanitizer reports the head it leaks. In a build without sanitizers the head is simply
/// never freed: one head, at the end of the test process.
final class PlantedLeakTests: XCTestCase {
    func testPlantedLeakOfAHead() throws {
        var allocator = PlainAllocator()
        let head = try XCTUnwrap(allocator.get())  // never put back: its meta and buffer leak
        XCTAssertEqual(allocator.counters.gets, 1)
        XCTAssertGreaterThan(head.tailroomLimit, 0)
    }
}
