import BufferCache
import Foundation
import XCTest

/// The leak that proves scripts/sanitize.sh's leak check can fail. LeakSanitizer matches a
/// suppression against every frame of a leak's stack, and every allocation a test makes has
/// XCTest's frames below it: a suppression too broad for XCTest hides the project's leaks too.
/// sanitize.sh runs this test under AddressSanitizer with FORWARDER_PLANT_LEAK=1 and fails unless
/// LeakSanitizer reports the head it leaks; elsewhere it is skipped (a leak nobody looks for
/// proves nothing).
final class PlantedLeakTests: XCTestCase {
    func testPlantedLeakOfAHead() throws {
        guard ProcessInfo.processInfo.environment["FORWARDER_PLANT_LEAK"] == "1" else {
            throw XCTSkip("the planted leak runs only under scripts/sanitize.sh (FORWARDER_PLANT_LEAK=1)")
        }
        var allocator = PlainAllocator()
        let head = try XCTUnwrap(allocator.get())  // never put back: its meta and buffer leak
        XCTAssertEqual(allocator.counters.gets, 1)
        XCTAssertGreaterThan(head.tailroomLimit, 0)
    }
}
