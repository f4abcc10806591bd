import Foundation
import Glibc
import Telemetry
import XCTest

/// The exposition format and the atomically replaced file the metrics go through.
final class PrometheusTextTests: XCTestCase {
    func testFamiliesAreDeclaredOnceBeforeTheirSamples() {
        var p = PrometheusText()
        p.counter("x_total", "Things.", 3, ["side": "in"])
        p.counter("x_total", "Things.", 4, ["side": "out"])
        p.gauge("y", "A level.", 2.5)
        p.gauge("z", "Whole.", 7)
        XCTAssertEqual(p.text, """
            # HELP x_total Things.
            # TYPE x_total counter
            x_total{side="in"} 3
            x_total{side="out"} 4
            # HELP y A level.
            # TYPE y gauge
            y 2.500000
            # HELP z Whole.
            # TYPE z gauge
            z 7

            """)
    }

    func testLabelValuesAndHelpAreEscaped() {
        XCTAssertEqual(PrometheusText.escapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd")
        XCTAssertEqual(PrometheusText.escapeHelp("a\"b\\c\nd"), "a\"b\\\\c\\nd")
    }

    func testAtomicFileReplacesAndReportsFailures() throws {
        let dir = "/tmp/telemetry-test-\(getpid())"
        mkdir(dir, 0o755)
        defer { unlink(dir + "/m.prom"); rmdir(dir) }
        let file = AtomicFile(path: dir + "/m.prom")
        try file.write("a 1\n")
        try file.write("a 2\n")
        let text = try String(contentsOfFile: dir + "/m.prom", encoding: .utf8)
        XCTAssertEqual(text, "a 2\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["m.prom"], "no temporary file left")
        do {
            try AtomicFile(path: "/nonexistent-dir/m.prom").write("a 1\n")
            XCTFail("a write into a missing directory must fail")
        } catch {
            XCTAssertTrue(error.message.hasPrefix("cannot create /nonexistent-dir/.m.prom."), error.message)
        }
    }
}
