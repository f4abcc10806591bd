import Foundation
import XCTest
import ControlSocket
@testable import Forwarder

/// The long options in `--help` (usageText), in the manual (docs/man/forwarder.8) and in the
/// parser's table (OptionTable) are the same three sets.
final class OptionConsistencyTests: XCTestCase {
    func longOptions(in text: String) throws -> Set<String> {
        let regex = try Regex("--([a-z][a-z0-9]*(-[a-z0-9]+)*)")
        return Set(text.matches(of: regex).map { String(text[$0.range].dropFirst(2)) })
    }

    func testHelpManualAndParserListTheSameOptions() throws {
        let table = Set(forwarderOptions.all.map(\.name))
        XCTAssertEqual(table.count, forwarderOptions.all.count, "an option is twice in OptionTable")
        let help = try longOptions(in: usageText)
        let roff = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/man/forwarder.8"), encoding: .utf8)
        // roff writes a dash as \- (and sometimes a plain -). The CONTROL section is `forwarder
        // ctl`'s, with options of its own (testCtlHelpAndManualListTheSameOptions).
        let manual = try longOptions(in: try sections(of: roff, except: "CONTROL").replacingOccurrences(of: "\\-", with: "-"))
        XCTAssertEqual(help.subtracting(table).sorted(), [], "in --help but not in OptionTable")
        XCTAssertEqual(table.subtracting(help).sorted(), [], "in OptionTable but not in --help")
        XCTAssertEqual(manual.subtracting(table).sorted(), [], "in docs/man/forwarder.8 but not in OptionTable")
        XCTAssertEqual(table.subtracting(manual).sorted(), [], "in OptionTable but not in docs/man/forwarder.8")
    }

    /// `forwarder ctl --help` and the manual's CONTROL section name the same options.
    func testCtlHelpAndManualListTheSameOptions() throws {
        let roff = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/man/forwarder.8"), encoding: .utf8)
        let control = try sections(of: roff, only: "CONTROL").replacingOccurrences(of: "\\-", with: "-")
        let help = try longOptions(in: ControlCommandLine.usage)
        XCTAssertEqual(help, try longOptions(in: control).union(["help"]))
        XCTAssertTrue(help.isSuperset(of: ["control", "name", "json", "inside", "outside-port", "protocol"]), "\(help)")
    }

    /// The manual without the section `except` (by its .SH title), or only the section `only`.
    private func sections(of roff: String, except: String? = nil, only: String? = nil) throws -> String {
        var kept: [Substring] = []
        var current = ""
        for line in roff.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(".SH ") { current = String(line.dropFirst(4)) }
            if let except, current == except { continue }
            if let only, current != only { continue }
            kept.append(line)
        }
        return kept.joined(separator: "\n")
    }

    /// Each option has a paragraph of its own in the manual's OPTIONS section (a .TP heading).
    func testTheManualDescribesEveryOption() throws {
        let roff = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/man/forwarder.8"), encoding: .utf8)
            .replacingOccurrences(of: "\\-", with: "-")
        let lines = roff.split(separator: "\n", omittingEmptySubsequences: false)
        var headed: Set<String> = []
        for (i, line) in lines.enumerated() where line == ".TP" && i + 1 < lines.count {
            headed.formUnion(try longOptions(in: String(lines[i + 1])))
        }
        for spec in forwarderOptions.all {
            XCTAssertTrue(headed.contains(spec.name), "--\(spec.name) has no .TP paragraph in docs/man/forwarder.8")
        }
    }

    /// Every option in the table is known to the parser: a value it rejects is a usage error,
    /// never the precondition for an unknown name.
    func testTheParserTakesEveryOptionInTheTable() {
        for spec in forwarderOptions.all where spec.name != "help" && spec.name != "version" {
            var arguments = ["--\(spec.name)"]
            if spec.takesValue { arguments.append(spec.name == "config" ? "/nonexistent/forwarder.conf" : "1") }
            if spec.name != "in" && spec.name != "out" { arguments += ["eth0", "eth1"] }
            do { _ = try Options.parse(arguments) } catch {
                XCTAssertFalse(error.message.hasPrefix("unknown option"), "--\(spec.name): \(error.message)")
            }
        }
        XCTAssertEqual(forwarderOptions.byShort["q"]?.name, "quiet")
        XCTAssertEqual(forwarderOptions.byShort["h"]?.name, "help")
        XCTAssertEqual(forwarderOptions.byShort["V"]?.name, "version")
    }
}
