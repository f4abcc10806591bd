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

    static func parse(_ arguments: [String]) throws(UsageError) -> Parsed {
        var o = Options()
        var positional: [String] = []
        var vlanMaps: [String] = []
        var vlanPassUnmapped = false
        var vlanNat = false
        var nat = NatArguments()
        var seen: Set<String> = []
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
            var flag = argument
            var inlineValue: String?
            if let eq = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                flag = String(argument[..<eq])
                inlineValue = String(argument[argument.index(after: eq)...])
            }
            func value() throws(UsageError) -> String {
                if let v = inlineValue { return v }
                guard let v = rest.popFirst() else { throw UsageError("\(flag) needs a value (see forwarder --help)") }
                return v
            }
            func noValue() throws(UsageError) {
                if inlineValue != nil { throw UsageError("\(flag) takes no value") }
            }
            seen.insert(flag)
            switch flag {
            case "-h", "--help": return .help
            case "-V", "--version": return .version
            case "--one-way": try noValue(); o.oneWay = true
            case "--filter":
                let f = try value()
                guard !f.isEmpty else { throw UsageError("--filter: the expression is empty") }
                o.filter = f
            case "--alloc":
                let v = try value()
                guard let a = Allocator(rawValue: v) else {
                    throw UsageError("--alloc: '\(v)' is not an allocator; use cache or plain")
                }
                o.allocator = a
            case "--cache-preset":
                let v = try value()
                guard let p = HeadCache.Preset(rawValue: v) else {
                    throw UsageError("--cache-preset: '\(v)' is not a preset; use \(HeadCache.Configuration.presetNames.joined(separator: " or "))")
                }
                o.cachePreset = p
            case "--burst": o.burst = try integer(flag, try value(), in: 1...1024)
            case "--snaplen": o.snaplen = try integer(flag, try value(), in: 64...65535)
            case "--buffer-size": o.bufferSize = try integer(flag, try value(), in: 65536...(1 << 31 - 1))
            case "--duration": o.duration = try seconds(flag, try value())
            case "--stats": o.statsInterval = try seconds(flag, try value())
            case "--json": try noValue(); o.json = true
            case "-q", "--quiet": try noValue(); o.quiet = true
            case "--busy-poll": try noValue(); o.busyPoll = true
            case "--debug-heads": try noValue(); o.debugHeads = true
            case "--max-heads": o.maxHeads = try integer(flag, try value(), in: 64...(1 << 24))
            case "--metrics-file": o.metricsFile = try path(flag, try value())
            case "--metrics-interval": o.metricsInterval = try seconds(flag, try value())
            case "--capture-drops": o.captureDrops = try path(flag, try value())
            case "--capture-limit": o.captureLimit = try integer(flag, try value(), in: 1...100_000_000)
            case "--log-format":
                let v = try value()
                guard let f = LogFormat(rawValue: v) else {
                    throw UsageError("--log-format: '\(v)' is not a format; use text or json")
                }
                o.logFormat = f
            case "--vlan-map": vlanMaps.append(try value())
            case "--vlan-pass-unmapped": try noValue(); vlanPassUnmapped = true
            case "--vlan-nat": try noValue(); vlanNat = true
            default:
                guard NatArguments.flags.contains(flag) else {
                    throw UsageError("unknown option '\(flag)' (see forwarder --help)")
                }
                try nat.take(flag, try value())
            }
        }
        guard positional.count == 2 else {
            if positional.isEmpty { throw UsageError("missing interfaces: forwarder IN OUT [options] (see forwarder --help)") }
            if positional.count == 1 { throw UsageError("missing the OUT interface: forwarder IN OUT [options]") }
            throw UsageError("too many arguments: '\(positional[2...].joined(separator: " "))'; expected forwarder IN OUT [options]")
        }
        o.inName = positional[0]
        o.outName = positional[1]
        guard o.inName != o.outName else {
            throw UsageError("IN and OUT are both '\(o.inName)': give two different interfaces")
        }
        for name in [o.inName, o.outName] where name.utf8.count > 15 || name.contains("/") {
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
        if seen.contains("--capture-limit") && o.captureDrops == nil {
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
        return .run(o)
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
