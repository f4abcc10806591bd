@testable import Forwarder

/// The options a command line (split at spaces) parses to; a help or version line is an error.
func parsedOptions(_ line: String) throws(UsageError) -> Options {
    guard case .run(let o) = try Options.parse(line.split(separator: " ").map(String.init)) else {
        throw UsageError("not a run")
    }
    return o
}
