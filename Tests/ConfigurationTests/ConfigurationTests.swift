import Configuration
import XCTest

/// The command-line and configuration-file readers against a small table of their own.
final class ConfigurationTests: XCTestCase {
    let table = OptionTable(program: "tool", [
        OptionSpec("level", value: true, "a number"),
        OptionSpec("tag", value: true, repeatable: true, "repeatable"),
        OptionSpec("fast", short: "f", value: false, "a flag"),
        OptionSpec("config", value: true, inConfigFile: false, "a file"),
        OptionSpec("help", short: "h", value: false, inConfigFile: false, "help"),
    ])

    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as ConfigurationError {
            return error.message
        } catch {
            return "not a ConfigurationError: \(error)"
        }
    }

    func testCommandLineBecomesSettingsInOrder() throws {
        let r = try CommandLineReader.read(["a", "--level=3", "-f", "--tag", "x", "--tag", "y", "--", "--b"],
                                           options: table)
        XCTAssertEqual(r.settings, [Setting(name: "level", value: "3"), Setting(name: "fast", value: "yes"),
                                    Setting(name: "tag", value: "x"), Setting(name: "tag", value: "y")])
        XCTAssertEqual(r.positional, ["a", "--b"])
        XCTAssertNil(r.stoppedAt)
        let stopped = try CommandLineReader.read(["--level", "1", "-h", "--bogus"], options: table, stopAt: ["help"])
        XCTAssertEqual(stopped.stoppedAt, "help", "reading stops before the unknown option")
    }

    func testCommandLineErrorsNameTheOption() {
        XCTAssertEqual(message { _ = try CommandLineReader.read(["--nope"], options: table) },
                       "unknown option '--nope' (see tool --help)")
        XCTAssertEqual(message { _ = try CommandLineReader.read(["-x"], options: table) },
                       "unknown option '-x' (see tool --help)")
        XCTAssertEqual(message { _ = try CommandLineReader.read(["--level"], options: table) },
                       "--level needs a value (see tool --help)")
        XCTAssertEqual(message { _ = try CommandLineReader.read(["--fast=yes"], options: table) },
                       "--fast takes no value")
    }

    func testConfigFileLines() throws {
        let text = "# comment\nlevel = 4 # trailing\n\ntag = a=b c\nfast\nfast = no\r\n"
        let settings = try ConfigFile.parse(text, file: "t.conf", options: table)
        XCTAssertEqual(settings.map(\.name), ["level", "tag", "fast", "fast"])
        XCTAssertEqual(settings.map(\.value), ["4", "a=b c", "yes", "no"])
        XCTAssertEqual(settings.map(\.origin), ["t.conf:2", "t.conf:4", "t.conf:5", "t.conf:6"])
    }

    func testConfigFileErrorsNameTheLine() {
        XCTAssertEqual(message { _ = try ConfigFile.parse("level = 1\nspeed = 2\n", file: "t.conf", options: table) },
                       "t.conf:2: unknown option 'speed' (see tool --help)")
        XCTAssertEqual(message { _ = try ConfigFile.parse("config = x\n", file: "t.conf", options: table) },
                       "t.conf:1: 'config' cannot be used inside a configuration file")
        XCTAssertEqual(message { _ = try ConfigFile.parse("help\n", file: "t.conf", options: table) },
                       "t.conf:1: 'help' cannot be used in a configuration file")
        XCTAssertEqual(message { _ = try ConfigFile.parse("fast = maybe\n", file: "t.conf", options: table) },
                       "t.conf:1: --fast: 'maybe' is not yes or no (use yes, no, true or false)")
        XCTAssertEqual(message { _ = try ConfigFile.load("/nonexistent/t.conf", options: table) }?
                        .hasPrefix("/nonexistent/t.conf: cannot read the configuration file: "), true)
    }

    func testValueParsers() {
        XCTAssertEqual(try? OptionValue.integer("--n", "12", in: 1...20), 12)
        XCTAssertEqual(message { _ = try OptionValue.integer("--n", "99", in: 1...20) },
                       "--n: 99 is out of range; use 1 to 20")
        XCTAssertEqual(message { _ = try OptionValue.seconds("--s", "0") },
                       "--s: 0 must be more than 0 seconds (and at most a year)")
        XCTAssertEqual(message { _ = try OptionValue.path("--p", "dir/") }, "--p: 'dir/' is not a file path")
        XCTAssertEqual(try? OptionValue.onOff("--o", "on"), true)
        XCTAssertEqual(try? OptionValue.onOff("--o", "off"), false)
        XCTAssertEqual(message { _ = try OptionValue.onOff("--o", "1") }, "--o: '1' is neither on nor off")
        XCTAssertEqual(try? OptionValue.numberList("--l", "3,0-2,7", max: 9, what: "CPU"), [3, 0, 1, 2, 7])
        XCTAssertEqual(message { _ = try OptionValue.numberList("--l", "0-10", max: 9, what: "CPU") },
                       "--l: '0-10' is not a CPU list; use numbers and ranges, e.g. 0,1 or 0-3")
        XCTAssertEqual(message { _ = try OptionValue.numberList("--l", "1,0-1", max: 9, what: "CPU") },
                       "--l: '1,0-1' names a CPU twice")
        enum Three: String, CaseIterable { case a, b, c }
        XCTAssertEqual(try? OptionValue.choice("--t", "b", "a letter") as Three, .b)
        XCTAssertEqual(message { let _: Three = try OptionValue.choice("--t", "d", "a letter") },
                       "--t: 'd' is not a letter; use a, b or c")
    }
}
