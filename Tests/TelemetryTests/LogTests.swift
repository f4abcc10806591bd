import Telemetry
import XCTest

/// The log lines and the JSON text the forwarder writes for people and machines.

final class LogTests: XCTestCase {
    func testTextKeepsTheHistoricalLines() {
        XCTAssertEqual(Log.line(.error, "no such interface 'eth9'", interface: "eth9", format: .text),
                       "forwarder: no such interface 'eth9'\n")
        XCTAssertEqual(Log.line(.warning, "eth0: GRO is on", interface: "eth0", format: .text),
                       "forwarder: warning: eth0: GRO is on\n")
        XCTAssertEqual(Log.line(.info, "in->out: 3 frames", interface: nil, format: .text),
                       "forwarder: in->out: 3 frames\n")
    }

    func testJSONObjectPerLine() {
        XCTAssertEqual(Log.line(.warning, "eth0: GRO is on", interface: "eth0", format: .json),
                       #"{"severity":"warning","interface":"eth0","message":"eth0: GRO is on"}"# + "\n")
        XCTAssertEqual(Log.line(.error, "--burst: 'x' is not a whole number", interface: nil, format: .json),
                       #"{"severity":"error","message":"--burst: 'x' is not a whole number"}"# + "\n")
        XCTAssertEqual(Log.line(.info, "summary", interface: nil, format: .json),
                       #"{"severity":"info","message":"summary"}"# + "\n")
    }

    func testJSONEscaping() {
        let line = Log.line(.error, "a \"quoted\" back\\slash\nnew\tline \u{1} é", interface: "ve\"th", format: .json)
        XCTAssertEqual(line, #"{"severity":"error","interface":"ve\"th","message":"a \"quoted\" back\\slash\nnew\tline \u0001 é"}"# + "\n")
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, "one line per message")
    }

    func testInterfaceOfAMessage() {
        XCTAssertEqual(Log.interface(of: "eth1: link down", among: ["eth0", "eth1"]), "eth1")
        XCTAssertEqual(Log.interface(of: "eth1 is up but has no carrier", among: ["eth0", "eth1"]), "eth1")
        XCTAssertNil(Log.interface(of: "eth10: link down", among: ["eth0", "eth1"]))
        XCTAssertNil(Log.interface(of: "too many head caches", among: ["eth0", "eth1"]))
    }

    func testFixedPointWithoutFoundation() {
        XCTAssertEqual(formatFixed(1.23456, 2), "1.23")
        XCTAssertEqual(formatFixed(-0.004, 2), "0.00")
        XCTAssertEqual(formatFixed(-2.5, 1), "-2.5")
        XCTAssertEqual(formatFixed(7, 0), "7")
        XCTAssertEqual(formatFixed(.nan, 3), "nan")
    }

    func testJSONObjectKeepsOrderAndTypes() {
        var inner = JSONObject()
        inner.add("n", 3)
        var o = JSONObject()
        o.add("b", true)
        o.add("a", UInt64(18_446_744_073_709_551_615))
        o.add("d", 0.5)
        o.add("inf", Double.infinity)
        o.addNull("none")
        o.add("list", [inner, JSONObject()])
        XCTAssertEqual(o.text, #"{"b":true,"a":18446744073709551615,"d":0.500000,"inf":null,"none":null,"list":[{"n":3},{}]}"#)
    }
}
