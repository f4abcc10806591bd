import Telemetry
import XCTest
@testable import Forwarder

final class EarlyLogFormatTests: XCTestCase {
    func testUsageErrorsAreJSONOnlyWhenTheCommandLineSaysSo() {
        XCTAssertEqual(Options.earlyLogFormat(["eth0", "eth1", "--burst", "x"]), .text)
        XCTAssertEqual(Options.earlyLogFormat(["eth0", "eth1", "--burst", "x", "--log-format", "json"]), .json)
        XCTAssertEqual(Options.earlyLogFormat(["--log-format=json", "eth0"]), .json)
        XCTAssertEqual(Options.earlyLogFormat(["--log-format=json", "--log-format", "text"]), .text)
        XCTAssertEqual(Options.earlyLogFormat(["--", "--log-format=json"]), .text)
    }
}
