import Foundation

// Text and JSON formatting shared by the benchmarks (never called inside a timed loop).

/// `s` left-aligned in a column of `width` characters (at least one space after it).
func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}

/// `x` with `digits` decimals.
func fixed(_ x: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", x)
}

/// One JSON object on one line from (key, already-encoded value) pairs, in order.
func jsonLine(_ fields: [(String, String)]) -> String {
    "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
}

/// A JSON string literal (the benchmarks' strings are plain ASCII; quotes and backslashes escaped).
func jsonString(_ s: String) -> String {
    "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}
