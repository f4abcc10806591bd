/// One long option: the single source of truth from which the command-line parser and the
/// configuration-file reader work (and against which a test checks `usageText` and the manual).
struct OptionSpec: Sendable {
    /// The long name without `--` (`burst`); a configuration file line uses it as is.
    let name: String
    /// The one-letter alias (`q` for `-q`), if any.
    let short: Character?
    /// Whether it takes a value (`--burst N`); otherwise it is a flag.
    let takesValue: Bool
    /// Whether it may be given more than once, each adding one entry (`--vlan-map`, `--forward`).
    let repeatable: Bool
    /// Whether a configuration file may set it (not `config`, `help`, `version`).
    let inConfigFile: Bool
    let help: String

    init(_ name: String, short: Character? = nil, value: Bool, repeatable: Bool = false,
         inConfigFile: Bool = true, _ help: String) {
        self.name = name
        self.short = short
        self.takesValue = value
        self.repeatable = repeatable
        self.inConfigFile = inConfigFile
        self.help = help
    }
}

enum OptionTable {
    static let all: [OptionSpec] = [
        OptionSpec("in", value: true, "the inside interface (the first positional argument)"),
        OptionSpec("out", value: true, "the outside interface (the second positional argument)"),
        OptionSpec("config", value: true, inConfigFile: false, "read options from FILE; the command line overrides it"),
        OptionSpec("one-way", value: false, "only IN -> OUT"),
        OptionSpec("filter", value: true, "pcap filter applied on both inputs"),
        OptionSpec("burst", value: true, "frames per RX burst and per sendmmsg [32]"),
        OptionSpec("snaplen", value: true, "bytes captured per frame [2112]"),
        OptionSpec("buffer-size", value: true, "kernel ring size per interface"),
        OptionSpec("busy-poll", value: false, "spin when idle instead of sleeping in poll()"),
        OptionSpec("alloc", value: true, "cache or plain [cache]"),
        OptionSpec("cache-preset", value: true, "kernel-2021 or kernel-2025 [kernel-2021]"),
        OptionSpec("max-heads", value: true, "cap on packet heads"),
        OptionSpec("debug-heads", value: false, "poison and check heads"),
        OptionSpec("vlan-map", value: true, repeatable: true, "VID A on IN <-> VID B on OUT"),
        OptionSpec("vlan-pass-unmapped", value: false, "pass frames whose VLAN has no mapping"),
        OptionSpec("vlan-nat", value: false, "route and masquerade the inside behind the outside address"),
        OptionSpec("inside", value: true, "the gateway's address on IN"),
        OptionSpec("outside", value: true, "the gateway's address on OUT"),
        OptionSpec("inside-vlan", value: true, "VLAN of the inside hosts"),
        OptionSpec("outside-vlan", value: true, "VLAN of the outside network"),
        OptionSpec("gateway", value: true, "next hop beyond the outside subnet"),
        OptionSpec("forward", value: true, repeatable: true, "static port forward PROTO:PORT=IP:PORT"),
        OptionSpec("max-sessions", value: true, "NAT session cap [65536]"),
        OptionSpec("timeout-udp", value: true, "UDP session timeout [300]"),
        OptionSpec("timeout-tcp", value: true, "established TCP session timeout [7440]"),
        OptionSpec("timeout-tcp-transitory", value: true, "transitory TCP session timeout [240]"),
        OptionSpec("timeout-icmp", value: true, "ICMP session timeout [60]"),
        OptionSpec("duration", value: true, "stop by itself after SECONDS"),
        OptionSpec("stats", value: true, "a stats line per interval on stderr"),
        OptionSpec("json", value: false, "the final summary as JSON on stdout"),
        OptionSpec("quiet", short: "q", value: false, "no warnings, stats or text summary"),
        OptionSpec("log-format", value: true, "text or json [text]"),
        OptionSpec("metrics-file", value: true, "Prometheus text file, rewritten each interval"),
        OptionSpec("metrics-interval", value: true, "seconds between metrics-file rewrites"),
        OptionSpec("capture-drops", value: true, "pcapng file of dropped frames"),
        OptionSpec("capture-limit", value: true, "frames captured at most [10000]"),
        OptionSpec("help", short: "h", value: false, inConfigFile: false, "this help"),
        OptionSpec("version", short: "V", value: false, inConfigFile: false, "the version"),
    ]

    static let byName: [String: OptionSpec] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    static let byShort: [Character: OptionSpec] = Dictionary(
        uniqueKeysWithValues: all.compactMap { s in s.short.map { ($0, s) } })
}
