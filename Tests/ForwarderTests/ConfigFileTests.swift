import Foundation
import XCTest
@testable import Forwarder
import Nat44
import VlanTranslation

final class ConfigFileTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("forwarder-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes `text` to a file and returns its path.
    func file(_ text: String, name: String = "a.conf") throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func run(_ arguments: [String]) throws(UsageError) -> Options {
        guard case .run(let o) = try Options.parse(arguments) else { throw UsageError("not a run") }
        return o
    }

    func usageError(_ arguments: [String]) -> String? {
        do { _ = try run(arguments); return nil } catch { return error.message }
    }

    func testValuesFlagsCommentsAndBlankLines() throws {
        let path = try file("""
            # a whole-line comment
              # an indented one

            in = eth0
            out=eth1   # a trailing comment
            burst = 64
            json = yes
            quiet
            busy-poll = TRUE
            debug-heads = false
            one-way = no
            \tstats\t=\t2.5\t
            """)
        let o = try run(["--config", path])
        XCTAssertEqual(o.inName, "eth0")
        XCTAssertEqual(o.outName, "eth1")
        XCTAssertEqual(o.burst, 64)
        XCTAssertTrue(o.json)
        XCTAssertTrue(o.quiet)
        XCTAssertEqual(o.poll, .busy)
        XCTAssertFalse(o.debugHeads)
        XCTAssertFalse(o.oneWay)
        XCTAssertEqual(o.statsInterval, 2.5)
    }

    func testCRLFLines() throws {
        let path = try file("in = eth0\r\nout = eth1\r\nburst = 8\r\n")
        let o = try run(["--config", path])
        XCTAssertEqual(o.outName, "eth1")
        XCTAssertEqual(o.burst, 8)
    }

    func testValuesKeepEqualsSignsAndSpaces() throws {
        let path = try file("""
            in = eth0
            out = eth1
            filter = udp and port 53
            """)
        XCTAssertEqual(try run(["--config", path]).filter, "udp and port 53")
        let nat = try file("""
            in = eth0
            out = eth1
            vlan-nat
            inside = 192.168.10.1/24
            outside = 203.0.113.1/24
            forward = tcp:8080=192.168.10.5:80
            forward = udp:5353=192.168.10.6:53   # two entries
            """, name: "nat.conf")
        guard case .vlanNat(let c) = try run(["--config", nat]).mode else { return XCTFail("not NAT") }
        XCTAssertEqual(c.forwards.count, 2)
    }

    func testHashWithoutBlankBeforeItIsPartOfTheValue() throws {
        let path = try file("in = eth0\nout = eth1\nmetrics-file = /tmp/a#b.prom # comment\n")
        XCTAssertEqual(try run(["--config", path]).metricsFile, "/tmp/a#b.prom")
    }

    func testCommandLineOverridesTheFile() throws {
        let path = try file("""
            in = eth0
            out = eth1
            burst = 64
            json = no
            vlan-map = 10:20
            vlan-map = 30:40
            """)
        let o = try run(["--config", path, "--burst", "16", "--json"])
        XCTAssertEqual(o.burst, 16)
        XCTAssertTrue(o.json)
        guard case .vlanMap(let fileMap) = o.mode else { return XCTFail("not vlan-map") }
        XCTAssertEqual(fileMap.entries, try VlanMap(specs: ["10:20", "30:40"], passUnmapped: false).entries)
        // A repeatable option on the command line replaces all of the file's entries.
        guard case .vlanMap(let map) = try run(["--config", path, "--vlan-map", "50:60"]).mode else {
            return XCTFail("not vlan-map")
        }
        XCTAssertEqual(map.entries, try VlanMap(specs: ["50:60"], passUnmapped: false).entries)
        // Positional interfaces replace the file's in and out; the order does not matter.
        let p = try run(["veth1", "--config", path, "veth2"])
        XCTAssertEqual(p.inName, "veth1")
        XCTAssertEqual(p.outName, "veth2")
        XCTAssertEqual(try run(["--config", path, "--out", "veth9"]).outName, "veth9")
        XCTAssertEqual(try run(["--config", path, "--out", "veth9"]).inName, "eth0")
    }

    func testInAndOutOptions() throws {
        let o = try run(["--in", "eth0", "--out=eth1"])
        XCTAssertEqual(o.inName, "eth0")
        XCTAssertEqual(o.outName, "eth1")
        XCTAssertEqual(usageError(["eth0", "--in", "eth2", "eth1"]),
                       "--in and the positional interfaces do not combine: give IN OUT or --in IN --out OUT")
        XCTAssertEqual(usageError(["--out", "eth1"]), "missing the IN interface: forwarder IN OUT [options]")
        XCTAssertEqual(usageError(["--in", "eth1"]), "missing the OUT interface: forwarder IN OUT [options]")
        XCTAssertEqual(usageError(["--in", "eth1", "--out", "eth1"]),
                       "IN and OUT are both 'eth1': give two different interfaces")
    }

    func testEveryErrorNamesTheFileAndTheLine() throws {
        let cases: [(String, String)] = [
            ("burst = x", "--burst: 'x' is not a whole number"),
            ("burst = 5000", "--burst: 5000 is out of range; use 1 to 1024"),
            ("bogus = 1", "unknown option 'bogus' (see forwarder --help)"),
            ("--burst = 3", "unknown option '--burst'; write the name without dashes"),
            ("config = other.conf", "'config' cannot be used inside a configuration file"),
            ("help", "'help' cannot be used in a configuration file"),
            ("version = yes", "'version' cannot be used in a configuration file"),
            ("json = maybe", "--json: 'maybe' is not yes or no (use yes, no, true or false)"),
            ("burst", "--burst needs a value: burst = VALUE"),
            ("= 3", "a line '= value' without an option name"),
            ("filter =", "--filter: the expression is empty"),
            ("alloc = slab", "--alloc: 'slab' is not an allocator; use cache or plain"),
            ("log-format = xml", "--log-format: 'xml' is not a format; use text or json"),
            ("stats = -1", "--stats: -1 must be more than 0 seconds (and at most a year)"),
        ]
        for (line, message) in cases {
            let path = try file("# line 1\nin = eth0\n\n\(line)\nout = eth1\n")
            XCTAssertEqual(usageError(["--config", path]), "\(path):4: \(message)", line)
        }
        let nat = try file("vlan-nat\ninside = 192.168.10.1/24\noutside = 203.0.113.1/24\ninside-vlan = 5000\n")
        let message = usageError(["eth0", "eth1", "--config", nat]) ?? ""
        XCTAssertTrue(message.hasPrefix("\(nat):4: --inside-vlan"), message)
    }

    func testAnOverriddenBadLineIsNotRead() throws {
        let path = try file("in = eth0\nout = eth1\nburst = x\n")
        XCTAssertEqual(try run(["--config", path, "--burst", "8"]).burst, 8)
    }

    func testMissingOrUnreadableFile() throws {
        let missing = directory.appendingPathComponent("nope.conf").path
        let message = usageError(["--config", missing]) ?? ""
        XCTAssertTrue(message.hasPrefix("\(missing): cannot read the configuration file: "), message)
        XCTAssertTrue(message.contains("No such file"), message)
        let dir = usageError(["--config", directory.path]) ?? ""
        XCTAssertTrue(dir.hasPrefix("\(directory.path): cannot read the configuration file: "), dir)
        XCTAssertEqual(usageError(["eth0", "eth1", "--config"]), "--config needs a value (see forwarder --help)")
    }

    func testCommandLineErrorsCarryNoFile() throws {
        let path = try file("in = eth0\nout = eth1\n")
        XCTAssertEqual(usageError(["--config", path, "--burst", "x"]), "--burst: 'x' is not a whole number")
    }

    func testTheExampleFileParses() throws {
        let example = repositoryRoot.appendingPathComponent("docs/forwarder.conf.example").path
        let o = try run(["--config", example])
        XCTAssertEqual(o.inName, "eth0")
        XCTAssertEqual(o.outName, "eth1")
        XCTAssertEqual(o.logFormat, .json)
        XCTAssertNotNil(o.metricsFile)
        guard case .vlanNat(let c) = o.mode else { return XCTFail("the example is not a NAT gateway") }
        XCTAssertEqual(c.insideVLAN, 10)
        XCTAssertEqual(c.outsideVLAN, 20)
        XCTAssertEqual(c.forwards.count, 2)
    }

    /// The example shows every option a file can set, commented out where it is not needed.
    func testTheExampleShowsEveryOption() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/forwarder.conf.example"), encoding: .utf8)
        let shown = Set(text.split(separator: "\n").compactMap { line -> String? in
            var l = line.drop { $0 == " " || $0 == "#" }
            guard let eq = l.firstIndex(of: "=") else { return nil }
            l = l[..<eq]
            return l.trimmingCharacters(in: .whitespaces)
        })
        for spec in forwarderOptions.all where spec.inConfigFile {
            XCTAssertTrue(shown.contains(spec.name), "docs/forwarder.conf.example does not show '\(spec.name) = ...'")
        }
    }
}

/// The repository's root, from this file's path (Tests/ForwarderTests/...).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
