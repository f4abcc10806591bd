import BufferCache

/// Everything the command line says, parsed and checked; nothing here touches the system.
struct Options {
    enum Mode: Equatable {
        case transparent
        case vlanMap
        case vlanNat
    }

    var inName = ""
    var outName = ""
    var oneWay = false
    var filter: String?
    var alloc = "cache"
    var cachePreset = "kernel-2021"
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
    var vlanMaps: [String] = []
    var vlanPassUnmapped = false
    var vlanNat = false
    /// NAT options as given (`--inside` ... `--timeout-icmp`), turned into a `NatConfig` by the runner.
    var natArguments: [(flag: String, value: String)] = []

    var mode: Mode { vlanNat ? .vlanNat : (vlanMaps.isEmpty ? .transparent : .vlanMap) }

    enum Parsed {
        case run(Options)
        case help
        case version
    }

    static let natFlags: Set<String> = [
        "--inside", "--outside", "--inside-vlan", "--outside-vlan", "--gateway", "--forward",
        "--max-sessions", "--timeout-udp", "--timeout-tcp", "--timeout-tcp-transitory", "--timeout-icmp",
    ]

    static func parse(_ arguments: [String]) throws(UsageError) -> Parsed {
        var o = Options()
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
                guard v == "cache" || v == "plain" else {
                    throw UsageError("--alloc: '\(v)' is not an allocator; use cache or plain")
                }
                o.alloc = v
            case "--cache-preset":
                let v = try value()
                guard HeadCache.Configuration(preset: v) != nil else {
                    throw UsageError("--cache-preset: '\(v)' is not a preset; use \(HeadCache.Configuration.presetNames.joined(separator: " or "))")
                }
                o.cachePreset = v
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
            case "--vlan-map": o.vlanMaps.append(try value())
            case "--vlan-pass-unmapped": try noValue(); o.vlanPassUnmapped = true
            case "--vlan-nat": try noValue(); o.vlanNat = true
            default:
                if natFlags.contains(flag) {
                    o.natArguments.append((flag, try value()))
                } else {
                    throw UsageError("unknown option '\(flag)' (see forwarder --help)")
                }
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
        if o.vlanNat && !o.vlanMaps.isEmpty {
            throw UsageError("--vlan-map and --vlan-nat do not combine: NAT mode sets the VLANs with --inside-vlan and --outside-vlan")
        }
        if !o.vlanNat, let first = o.natArguments.first {
            throw UsageError("\(first.flag) only applies with --vlan-nat")
        }
        if o.vlanPassUnmapped && o.vlanMaps.isEmpty {
            throw UsageError("--vlan-pass-unmapped only applies with --vlan-map")
        }
        if o.vlanNat && o.oneWay {
            throw UsageError("--one-way does not combine with --vlan-nat: NAT needs both directions")
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

    static func seconds(_ flag: String, _ text: String) throws(UsageError) -> Double {
        guard let s = Double(text), s.isFinite else { throw UsageError("\(flag): '\(text)' is not a number of seconds") }
        guard s > 0 && s <= 31_536_000 else { throw UsageError("\(flag): \(text) must be more than 0 seconds (and at most a year)") }
        return s
    }
}
