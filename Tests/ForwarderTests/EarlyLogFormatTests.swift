import Telemetry
import XCTest
@testable import Forwarder

final class EarlyLogFormatTests: XCTestCase {
    func testUsageErrorsAreJSONOnlyWhenTheCommandLineSaysSo() {
        XCTAssertEqual(LogFormat.given(in: ["eth0", "eth1", "--burst", "x"]), .text)
        XCTAssertEqual(LogFormat.given(in: ["eth0", "eth1", "--burst", "x", "--log-format", "json"]), .json)
        XCTAssertEqual(LogFormat.given(in: ["--log-format=json", "eth0"]), .json)
        XCTAssertEqual(LogFormat.given(in: ["--log-format=json", "--log-format", "text"]), .text)
        XCTAssertEqual(LogFormat.given(in: ["--", "--log-format=json"]), .text)
    }
}
