/// Reads a command line against an option table: `--name value`, `--name=value`, `-x`,
/// flags, `--` ending the options, and positional arguments. Every option becomes a `Setting`
/// (a flag's value is `yes`), in order, as a configuration file's lines do, so both sources
/// go through one place that applies them.
public enum CommandLineReader {
    public struct Result: Equatable {
        public var settings: [Setting] = []
        public var positional: [String] = []
        /// The first option of `stopAt` met (`help`, `version`); reading stopped there.
        public var stoppedAt: String?
    }

    public static func read(_ arguments: [String], options table: OptionTable,
                            stopAt: Set<String> = []) throws(ConfigurationError) -> Result {
        var result = Result()
        var rest = arguments[...]
        let hint = "(see \(table.program) --help)"
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("-"), argument != "-" else {
                result.positional.append(argument)
                continue
            }
            if argument == "--" {
                result.positional.append(contentsOf: rest)
                break
            }
            let spec: OptionSpec
            var flag = argument
            var inlineValue: String?
            if argument.hasPrefix("--") {
                if let eq = argument.firstIndex(of: "=") {
                    flag = String(argument[..<eq])
                    inlineValue = String(argument[argument.index(after: eq)...])
                }
                guard let s = table.byName[String(flag.dropFirst(2))] else {
                    throw ConfigurationError("unknown option '\(flag)' \(hint)")
                }
                spec = s
            } else {
                guard argument.count == 2, let s = table.byShort[argument.last!] else {
                    throw ConfigurationError("unknown option '\(flag)' \(hint)")
                }
                spec = s
            }
            if stopAt.contains(spec.name) {
                result.stoppedAt = spec.name
                return result
            }
            if spec.takesValue {
                if inlineValue == nil { inlineValue = rest.popFirst() }
                guard let v = inlineValue else { throw ConfigurationError("\(flag) needs a value \(hint)") }
                result.settings.append(Setting(name: spec.name, value: v))
            } else {
                if inlineValue != nil { throw ConfigurationError("\(flag) takes no value") }
                result.settings.append(Setting(name: spec.name, value: "yes"))
            }
        }
        return result
    }
}
