/// One long option: the single source of truth from which the command-line reader and the
/// configuration-file reader work (a program keeps a table of them; a test can check its help
/// text and manual against it).
public struct OptionSpec: Sendable {
    /// The long name without `--` (`burst`); a configuration file line uses it as is.
    public let name: String
    /// The one-letter alias (`q` for `-q`), if any.
    public let short: Character?
    /// Whether it takes a value (`--burst N`); otherwise it is a flag.
    public let takesValue: Bool
    /// Whether it may be given more than once, each adding one entry (`--vlan-map`, `--forward`).
    public let repeatable: Bool
    /// Whether a configuration file may set it (not `config`, `help`, `version`).
    public let inConfigFile: Bool
    public let help: String

    public init(_ name: String, short: Character? = nil, value: Bool, repeatable: Bool = false,
                inConfigFile: Bool = true, _ help: String) {
        (self.name, self.short, self.takesValue) = (name, short, value)
        (self.repeatable, self.inConfigFile, self.help) = (repeatable, inConfigFile, help)
    }
}

/// A program's options, looked up by long name and by one-letter alias.
public struct OptionTable: Sendable {
    public let all: [OptionSpec]
    public let byName: [String: OptionSpec]
    public let byShort: [Character: OptionSpec]
    /// The program's name, for hints such as "(see forwarder --help)".
    public let program: String

    public init(program: String, _ all: [OptionSpec]) {
        self.program = program
        self.all = all
        byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
        byShort = Dictionary(uniqueKeysWithValues: all.compactMap { s in s.short.map { ($0, s) } })
    }
}
