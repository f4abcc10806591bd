import BufferCache
import Nat44
import PcapIO
import VlanTranslation

/// Everything the command line says, parsed and checked completely (VLAN maps, NAT addresses,
/// the filter expression) before the runner touches any interface: a usage error always comes
/// before a system error.
struct Options {
    enum Mode {
        case transparent
        case vlanMap(VlanMap)
        /// The gateway's configuration; the interfaces' MACs and MTUs are filled in by the runner.
        case vlanNat(NatConfig)

        /// The mode's name in the JSON summary.
        var name: String {
            switch self {
            case .transparent: "l2"
            case .vlanMap: "vlan-map"
            case .vlanNat: "vlan-nat"
            }
        }
    }

    enum Allocator: String, CaseIterable {
        case cache
        case plain
    }

    /// How warnings and errors are written to stderr: `text` lines for people, `json` objects
    /// (one per line, with a severity) for the journal and log collectors.
    enum LogFormat: String, CaseIterable {
        case text
        case json
    }

    var inName = ""
    var outName = ""
    var mode = Mode.transparent
    var oneWay = false
    var filter: String?
    var allocator = Allocator.cache
    var cachePreset = HeadCache.Preset.kernel2021
    var burst = 32
    var snaplen = 2048 + 64
    var bufferSize = 0
    var duration: Double?
    var statsInterval: Double?
    var json = false
    var quiet = false
    var busyPoll = false
    var debugHeads = false
    var maxHeads: Int?
    /// `--metrics-file`: Prometheus text exposition, rewritten atomically every interval.
    var metricsFile: String?
    /// `--metrics-interval`; nil means the `--stats` interval, else 10 s.
    var metricsInterval: Double?
    /// `--capture-drops`: a pcapng file of dropped frames, each with its reason as a comment.
    var captureDrops: String?
    var captureLimit = 10_000
    var logFormat = LogFormat.text

    enum Parsed {
        case run(Options)
        case help
        case version
    }

    /// Parses the command line and, with `--config FILE`, that file first: an option given on
    /// the command line replaces all of the file's entries for it. Every option, from either
    /// place, goes through `OptionTable`.
    static func parse(_ arguments: [String]) throws(UsageError) -> Parsed {
        var command: [Setting] = []
        var positional: [String] = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("-"), argument != "-" else {
                positional.append(argument)
                continue
            }
            if argument == "--" {
                positional.append(contentsOf: rest)
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
                guard let s = OptionTable.byName[String(flag.dropFirst(2))] else {
                    throw UsageError("unknown option '\(flag)' (see forwarder --help)")
                }
                spec = s
            } else {
                guard argument.count == 2, let s = OptionTable.byShort[argument.last!] else {
                    throw UsageError("unknown option '\(flag)' (see forwarder --help)")
                }
                spec = s
            }
            if spec.name == "help" { return .help }
            if spec.name == "version" { return .version }
            if spec.takesValue {
                if inlineValue == nil { inlineValue = rest.popFirst() }
                guard let v = inlineValue else { throw UsageError("\(flag) needs a value (see forwarder --help)") }
                command.append(Setting(name: spec.name, value: v))
            } else {
                if inlineValue != nil { throw UsageError("\(flag) takes no value") }
                command.append(Setting(name: spec.name, value: "yes"))
            }
        }
        if !positional.isEmpty, let s = command.first(where: { $0.name == "in" || $0.name == "out" }) {
            throw UsageError("--\(s.name) and the positional interfaces do not combine: give IN OUT or --in IN --out OUT")
        }
        guard positional.count <= 2 else {
            throw UsageError("too many arguments: '\(positional[2...].joined(separator: " "))'; expected forwarder IN OUT [options]")
        }
        for (name, value) in zip(["in", "out"], positional) { command.append(Setting(name: name, value: value)) }
        var settings: [Setting] = []
        if let path = command.last(where: { $0.name == "config" })?.value {
            let given = Set(command.map(\.name))
            settings = try ConfigFile.load(path).filter { !given.contains($0.name) }
        }
        settings += command.filter { $0.name != "config" }
        return .run(try build(settings))
    }

    /// The options from settings in order (the file's, then the command line's); a setting's
    /// error is prefixed with its `FILE:LINE` when it comes from a file.
    static func build(_ settings: [Setting]) throws(UsageError) -> Options {
        var o = Options()
        var vlanMaps: [String] = []
        var vlanPassUnmapped = false
        var vlanNat = false
        var nat = NatArguments()
        var seen: Set<String> = []
        var inName: String?
        var outName: String?
        for setting in settings {
            let flag = "--" + setting.name
            let value = setting.value
            let on = value == "yes"
            seen.insert(setting.name)
            do throws(UsageError) {
                switch setting.name {
                case "in": inName = value
                case "out": outName = value
                case "one-way": o.oneWay = on
                case "filter":
                    guard !value.isEmpty else { throw UsageError("--filter: the expression is empty") }
                    o.filter = value
                case "alloc":
                    guard let a = Allocator(rawValue: value) else {
                        throw UsageError("--alloc: '\(value)' is not an allocator; use cache or plain")
                    }
                    o.allocator = a
                case "cache-preset":
                    guard let p = HeadCache.Preset(rawValue: value) else {
                        throw UsageError("--cache-preset: '\(value)' is not a preset; use \(HeadCache.Configuration.presetNames.joined(separator: " or "))")
                    }
                    o.cachePreset = p
                case "burst": o.burst = try integer(flag, value, in: 1...1024)
                case "snaplen": o.snaplen = try integer(flag, value, in: 64...65535)
                case "buffer-size": o.bufferSize = try integer(flag, value, in: 65536...(1 << 31 - 1))
                case "duration": o.duration = try seconds(flag, value)
                case "stats": o.statsInterval = try seconds(flag, value)
                case "json": o.json = on
                case "quiet": o.quiet = on
                case "busy-poll": o.busyPoll = on
                case "debug-heads": o.debugHeads = on
                case "max-heads": o.maxHeads = try integer(flag, value, in: 64...(1 << 24))
                case "metrics-file": o.metricsFile = try path(flag, value)
                case "metrics-interval": o.metricsInterval = try seconds(flag, value)
                case "capture-drops": o.captureDrops = try path(flag, value)
                case "capture-limit": o.captureLimit = try integer(flag, value, in: 1...100_000_000)
                case "log-format":
                    guard let f = LogFormat(rawValue: value) else {
                        throw UsageError("--log-format: '\(value)' is not a format; use text or json")
                    }
                    o.logFormat = f
                case "vlan-map": vlanMaps.append(value)
                case "vlan-pass-unmapped": vlanPassUnmapped = on
                case "vlan-nat": vlanNat = on
                default:
                    guard NatArguments.flags.contains(flag) else {
                        preconditionFailure("an option in OptionTable that the parser does not know: \(flag)")
                    }
                    try nat.take(flag, value)
                }
            } catch {
                guard let origin = setting.origin else { throw error }
                throw UsageError("\(origin): \(error.message)")
            }
        }
        guard let inName, let outName else {
            if inName == nil && outName == nil {
                throw UsageError("missing interfaces: forwarder IN OUT [options] (see forwarder --help)")
            }
            if outName == nil { throw UsageError("missing the OUT interface: forwarder IN OUT [options]") }
            throw UsageError("missing the IN interface: forwarder IN OUT [options]")
        }
        o.inName = inName
        o.outName = outName
        guard o.inName != o.outName else {
            throw UsageError("IN and OUT are both '\(o.inName)': give two different interfaces")
        }
        for name in [o.inName, o.outName] where name.isEmpty || name.utf8.count > 15 || name.contains("/") {
            throw UsageError("'\(name)' is not a valid interface name (at most 15 characters, no '/')")
        }
        if vlanNat && !vlanMaps.isEmpty {
            throw UsageError("--vlan-map and --vlan-nat do not combine: NAT mode sets the VLANs with --inside-vlan and --outside-vlan")
        }
        if !vlanNat, let first = nat.firstFlag {
            throw UsageError("\(first) only applies with --vlan-nat")
        }
        if vlanPassUnmapped && vlanMaps.isEmpty {
            throw UsageError("--vlan-pass-unmapped only applies with --vlan-map")
        }
        if vlanNat && o.oneWay {
            throw UsageError("--one-way does not combine with --vlan-nat: NAT needs both directions")
        }
        if o.metricsInterval != nil && o.metricsFile == nil {
            throw UsageError("--metrics-interval only applies with --metrics-file")
        }
        if seen.contains("capture-limit") && o.captureDrops == nil {
            throw UsageError("--capture-limit only applies with --capture-drops")
        }
        if vlanNat {
            o.mode = .vlanNat(try nat.config())
        } else if !vlanMaps.isEmpty {
            do { o.mode = .vlanMap(try VlanMap(specs: vlanMaps, passUnmapped: vlanPassUnmapped)) }
            catch { throw UsageError(error.message) }
        }
        if let f = o.filter, let problem = PcapFilter.check(f, snaplen: o.snaplen) {
            throw UsageError("--filter '\(f)': \(problem)")
        }
        return o
    }

    /// The log format usage errors are written in: `json` only when the command line says
    /// `--log-format json` (or `=json`), the rest (and a configuration file's `log-format`) is
    /// not known until parsing succeeds.
    static func earlyLogFormat(_ arguments: [String]) -> LogFormat {
        var format = LogFormat.text
        var rest = arguments[...]
        while let a = rest.popFirst(), a != "--" {
            if a == "--log-format", let v = rest.popFirst() { format = LogFormat(rawValue: v) ?? format }
            if a.hasPrefix("--log-format=") { format = LogFormat(rawValue: String(a.dropFirst(13))) ?? format }
        }
        return format
    }

    static func integer(_ flag: String, _ text: String, in range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let n = Int(text) else { throw UsageError("\(flag): '\(text)' is not a whole number") }
        guard range.contains(n) else {
            throw UsageError("\(flag): \(n) is out of range; use \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// A file path for the forwarder to write: not empty, not a directory name.
    static func path(_ flag: String, _ text: String) throws(UsageError) -> String {
        guard !text.isEmpty, !text.hasSuffix("/") else { throw UsageError("\(flag): '\(text)' is not a file path") }
        return text
    }

    static func seconds(_ flag: String, _ text: String) throws(UsageError) -> Double {
        guard let s = Double(text), s.isFinite else { throw UsageError("\(flag): '\(text)' is not a number of seconds") }
        guard s > 0 && s <= 31_536_000 else { throw UsageError("\(flag): \(text) must be more than 0 seconds (and at most a year)") }
        return s
    }
}
