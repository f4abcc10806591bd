/// Parsers for option values that many options share; each error names the option (`flag`,
/// e.g. `--burst`) and says what a valid value looks like.
public enum OptionValue {
    public static func integer(_ flag: String, _ text: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let n = Int(text) else { throw ConfigurationError("\(flag): '\(text)' is not a whole number") }
        guard range.contains(n) else {
            throw ConfigurationError("\(flag): \(n) is out of range; use \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// A file path for the program to write: not empty, not a directory name.
    public static func path(_ flag: String, _ text: String) throws(ConfigurationError) -> String {
        guard !text.isEmpty, !text.hasSuffix("/") else { throw ConfigurationError("\(flag): '\(text)' is not a file path") }
        return text
    }

    /// Seconds, more than 0 and at most a year (fractions allowed).
    public static func seconds(_ flag: String, _ text: String) throws(ConfigurationError) -> Double {
        guard let s = Double(text), s.isFinite else { throw ConfigurationError("\(flag): '\(text)' is not a number of seconds") }
        guard s > 0 && s <= 31_536_000 else {
            throw ConfigurationError("\(flag): \(text) must be more than 0 seconds (and at most a year)")
        }
        return s
    }
}
