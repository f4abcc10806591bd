#if canImport(Glibc)
import Glibc
#endif

/// One option as given: its long name (without `--`), its value (`yes`/`no` for a flag), and,
/// when it comes from a configuration file, `FILE:LINE` for its error messages.
public struct Setting: Equatable, Sendable {
    public let name: String
    public let value: String
    public var origin: String?

    public init(name: String, value: String, origin: String? = nil) {
        self.name = name
        self.value = value
        self.origin = origin
    }
}

/// The configuration file (`--config FILE`): one `option = value` per line, with the long
/// options' names; `#` starts a comment (at the start of a line, or after whitespace); blank
/// lines are ignored; a flag is `name = yes|no|true|false` or a bare `name` (yes); a repeatable
/// option is written once per entry. The value is everything after the first `=`, trimmed, so it
/// may hold `=` and spaces (`filter = udp and port 53`, `forward = tcp:8080=192.168.10.5:80`).
public enum ConfigFile {
    /// Reads and parses `path`; a missing or unreadable file is a usage error naming it.
    public static func load(_ path: String, options table: OptionTable) throws(ConfigurationError) -> [Setting] {
        try parse(try contents(path), file: path, options: table)
    }

    public static func contents(_ path: String) throws(ConfigurationError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConfigurationError("\(path): cannot read the configuration file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfigurationError("\(path): cannot read the configuration file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 1 << 20 { throw ConfigurationError("\(path): the configuration file is larger than 1 MB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func parse(_ text: String, file: String, options table: OptionTable) throws(ConfigurationError) -> [Setting] {
        var settings: [Setting] = []
        var number = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            let origin = "\(file):\(number)"
            func fail(_ message: String) -> ConfigurationError { ConfigurationError("\(origin): \(message)") }
            let line = trim(stripComment(Substring(raw)))
            if line.isEmpty { continue }
            let name: String
            var value: String?
            if let eq = line.firstIndex(of: "=") {
                name = String(trim(line[..<eq]))
                value = String(trim(line[line.index(after: eq)...]))
            } else {
                name = String(line)
            }
            guard !name.isEmpty else { throw fail("a line '= value' without an option name") }
            if name == "config" { throw fail("'config' cannot be used inside a configuration file") }
            guard let spec = table.byName[name] else {
                let hint = name.hasPrefix("-") ? "; write the name without dashes" : " (see \(table.program) --help)"
                throw fail("unknown option '\(name)'\(hint)")
            }
            guard spec.inConfigFile else { throw fail("'\(name)' cannot be used in a configuration file") }
            if spec.takesValue {
                guard let value else { throw fail("--\(name) needs a value: \(name) = VALUE") }
                settings.append(Setting(name: name, value: value, origin: origin))
            } else {
                guard let on = flagValue(value ?? "yes") else {
                    throw fail("--\(name): '\(value ?? "")' is not yes or no (use yes, no, true or false)")
                }
                settings.append(Setting(name: name, value: on ? "yes" : "no", origin: origin))
            }
        }
        return settings
    }

    public static func flagValue(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "yes", "true", "on", "1": true
        case "no", "false", "off", "0": false
        default: nil
        }
    }

    /// The line without its comment: `#` at the start or after a space or tab.
    static func stripComment(_ line: Substring) -> Substring {
        var previous: Character = " "
        for i in line.indices {
            let c = line[i]
            if c == "#" && (previous == " " || previous == "\t") { return line[..<i] }
            previous = c
        }
        return line
    }

    static func trim(_ s: Substring) -> Substring {
        var s = s
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s.removeLast() }
        return s
    }
}
