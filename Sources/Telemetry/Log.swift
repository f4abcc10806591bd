#if canImport(Glibc)
import Glibc
#endif

/// How serious a message on stderr is.
public enum Severity: String, Sendable {
    case error
    case warning
    /// The stats lines and the text summary.
    case info
}

/// How messages on stderr are written: `text` lines for people, `json` objects (one per line,
/// with a severity) for the journal and log collectors.
public enum LogFormat: String, CaseIterable, Sendable {
    case text
    case json

    /// The log format usage errors are written in: `json` only when the command line says
    /// `--log-format json` (or `=json`), the rest (and a configuration file's `log-format`) is
    /// not known until parsing succeeds.
    public static func given(in arguments: [String]) -> LogFormat {
        var format = LogFormat.text
        var rest = arguments[...]
        while let a = rest.popFirst(), a != "--" {
            if a == "--log-format", let v = rest.popFirst() { format = LogFormat(rawValue: v) ?? format }
            if a.hasPrefix("--log-format=") { format = LogFormat(rawValue: String(a.dropFirst(13))) ?? format }
        }
        return format
    }
}

/// The program's stderr logger: one line per message, one write(2) per line (lines from two
/// threads never interleave), no Foundation, safe from any thread.
///
/// `text` (the default) keeps the historical lines: `forwarder: message` for errors and info,
/// `forwarder: warning: message` for warnings. `json` writes one object per line:
/// `{"severity":"warning","interface":"eth0","message":"..."}`, `interface` left out when the
/// message is not about one.
public enum Log {
    /// Set once by `main` before any thread starts (from `--log-format`); read-only afterwards.
    nonisolated(unsafe) public static var format = LogFormat.text
    /// The prefix of a text line (`forwarder: ...`).
    nonisolated(unsafe) public static var program = "forwarder"

    public static func error(_ message: String, interface: String? = nil) { write(.error, message, interface: interface) }
    public static func warning(_ message: String, interface: String? = nil) { write(.warning, message, interface: interface) }
    public static func info(_ message: String, interface: String? = nil) { write(.info, message, interface: interface) }

    public static func write(_ severity: Severity, _ message: String, interface: String? = nil) {
        var text = line(severity, message, interface: interface, format: format)
        text.withUTF8 { buffer in _ = Glibc.write(2, buffer.baseAddress, buffer.count) }
    }

    /// The line as written, with its newline.
    public static func line(_ severity: Severity, _ message: String, interface: String?, format: LogFormat) -> String {
        switch format {
        case .text:
            return program + ": " + (severity == .warning ? "warning: " : "") + message + "\n"
        case .json:
            var o = JSONObject()
            o.add("severity", severity.rawValue)
            if let interface { o.add("interface", interface) }
            o.add("message", message)
            return o.text + "\n"
        }
    }

    /// Which of `names` a message is about, when it starts with `NAME:` or `NAME/`: for errors
    /// whose type carries only text (RuntimeError, a worker's PortError).
    public static func interface(of message: String, among names: [String]) -> String? {
        names.first { !$0.isEmpty && (message.hasPrefix($0 + ":") || message.hasPrefix($0 + " ")) }
    }
}
