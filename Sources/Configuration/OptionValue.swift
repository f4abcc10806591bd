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

    /// `on` or `off`.
    public static func onOff(_ flag: String, _ text: String) throws(ConfigurationError) -> Bool {
        switch text {
        case "on": return true
        case "off": return false
        default: throw ConfigurationError("\(flag): '\(text)' is neither on nor off")
        }
    }

    /// Numbers and ranges, `0,2,4-6`, each at most once, none above `max`; `what` names one
    /// item in the error ("CPU").
    public static func numberList(_ flag: String, _ text: String, max: Int, what: String) throws(ConfigurationError) -> [Int] {
        var list: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard bounds.count == 1 || bounds.count == 2, let lo = bounds.first ?? nil, let hi = bounds.last ?? nil,
                  lo >= 0, lo <= hi, hi <= max else {
                throw ConfigurationError("\(flag): '\(text)' is not a \(what) list; use numbers and ranges, e.g. 0,1 or 0-3")
            }
            list += Array(lo...hi)
        }
        guard Set(list).count == list.count else { throw ConfigurationError("\(flag): '\(text)' names a \(what) twice") }
        return list
    }

    /// One of `T`'s cases by its raw value; the error names them all ("use a, b or c").
    /// `noun` comes with its article: "an allocator".
    public static func choice<T: CaseIterable & RawRepresentable>(_ flag: String, _ text: String, _ noun: String)
        throws(ConfigurationError) -> T where T.RawValue == String {
        if let value = T(rawValue: text) { return value }
        let names = T.allCases.map(\.rawValue)
        let list = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names.joined()
        throw ConfigurationError("\(flag): '\(text)' is not \(noun); use \(list)")
    }
}
