import BufferCache
import Configuration
import ControlSocket
import Telemetry
import Nat44
import NatLog
import PcapIO
import PacketFilter
import Pipeline
import ProcessControl
import VlanTranslation
import XdpIO

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

    /// `--io`: how frames enter and leave the kernel.
    enum IO: String, CaseIterable {
        /// libpcap over AF_PACKET (PcapIO).
        case pcap
        /// AF_XDP (XdpIO): one UMEM shared by a socket on each interface.
        case xdp
        /// xdp where it can be set up on both interfaces, else pcap with one line saying why.
        case auto
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
    /// `--poll` (`--busy-poll` is `--poll busy`).
    var poll = PollMode.wait
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
    /// `--user`, `--group`: who to become once the ports and the files are open (looked up at
    /// parse time, so an unknown name is a usage error).
    var privileges: Privileges.Target?
    /// `--workers`, `--cpus`, `--remote-frees`, `--nat-steering` and the kernel-path switches.
    var parallel = ParallelOptions()
    /// `--io`, and `--xdp-mode`, `--xdp-zero-copy`, `--xdp-queue` for AF_XDP.
    var io = IO.pcap
    var xdp = XdpOptions()
    /// Why `--io auto` cannot use xdp with these options (nil: it may try); set by `build`.
    var xdpExcludedBy: String?
    /// `--name`: this forwarder among others on the host (its control socket's name).
    var name = ""
    /// `--nat-log`: where the NAT's mapping events go; nil for nowhere.
    var natLog: NatLogWriter.Destination?
    /// `--control`: the control socket's path; nil with `--control none`.
    var control: ControlPath? = .standard

    enum Parsed {
        case run(Options)
        case help
        case version
    }

    /// Parses the command line and, with `--config FILE`, that file first: an option given on
    /// the command line replaces all of the file's entries for it. Every option, from either
    /// place, goes through `OptionTable`.
    static func parse(_ arguments: [String]) throws(UsageError) -> Parsed {
        let line: CommandLineReader.Result
        do { line = try CommandLineReader.read(arguments, options: forwarderOptions, stopAt: ["help", "version"]) }
        catch { throw UsageError(error.message) }
        if line.stoppedAt == "help" { return .help }
        if line.stoppedAt == "version" { return .version }
        var command = line.settings
        let positional = line.positional
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
            do { settings = try ConfigFile.load(path, options: forwarderOptions).filter { !given.contains($0.name) } }
            catch { throw UsageError(error.message) }
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
        var nat = NatOptions()
        var seen: Set<String> = []
        var inName: String?
        var outName: String?
        var user: String?
        var group: String?
        for setting in settings {
            let flag = "--" + setting.name
            let value = setting.value
            let on = value == "yes"
            seen.insert(setting.name)
            do throws(ConfigurationError) {
                switch setting.name {
                case "in": inName = value
                case "out": outName = value
                case "one-way": o.oneWay = on
                case "filter":
                    guard !value.isEmpty else { throw ConfigurationError("--filter: the expression is empty") }
                    o.filter = value
                case "alloc":
                    o.allocator = try OptionValue.choice(flag, value, "an allocator")
                case "cache-preset":
                    o.cachePreset = try OptionValue.choice(flag, value, "a preset")
                case "burst": o.burst = try OptionValue.integer(flag, value, in: 1...1024)
                case "snaplen": o.snaplen = try OptionValue.integer(flag, value, in: 64...65535)
                case "buffer-size": o.bufferSize = try OptionValue.integer(flag, value, in: 65536...(1 << 31 - 1))
                case "duration": o.duration = try OptionValue.seconds(flag, value)
                case "stats": o.statsInterval = try OptionValue.seconds(flag, value)
                case "json": o.json = on
                case "quiet": o.quiet = on
                case "busy-poll": if on { o.poll = .busy }
                case "poll":
                    guard let mode = PollMode(value) else {
                        throw ConfigurationError("\(flag): '\(value)' is not wait, busy, adaptive or adaptive:USEC "
                            + "(USEC 1 to \(PollMode.maxAdaptiveMicroseconds))")
                    }
                    o.poll = mode
                case "debug-heads": o.debugHeads = on
                case "max-heads": o.maxHeads = try OptionValue.integer(flag, value, in: 64...(1 << 24))
                case "metrics-file": o.metricsFile = try OptionValue.path(flag, value)
                case "metrics-interval": o.metricsInterval = try OptionValue.seconds(flag, value)
                case "capture-drops": o.captureDrops = try OptionValue.path(flag, value)
                case "capture-limit": o.captureLimit = try OptionValue.integer(flag, value, in: 1...100_000_000)
                case "log-format":
                    o.logFormat = try OptionValue.choice(flag, value, "a format")
                case "name":
                    do { o.name = try ControlPath.name(flag, value) } catch { throw ConfigurationError(error.message) }
                case "control": o.control = value == "none" ? nil : .given(try OptionValue.path(flag, value))
                case "nat-log": o.natLog = NatLogWriter.Destination(try OptionValue.path(flag, value))
                case "user": user = try nonEmpty(flag, value)
                case "group": group = try nonEmpty(flag, value)
                case "vlan-map": vlanMaps.append(value)
                case "vlan-pass-unmapped": vlanPassUnmapped = on
                case "vlan-nat": vlanNat = on
                case "io":
                    o.io = try OptionValue.choice(flag, value, "an I/O kind")
                case "xdp-mode":
                    o.xdp.mode = try OptionValue.choice(flag, value, "a mode")
                case "xdp-zero-copy": o.xdp.zeroCopy = on
                case "xdp-queue": o.xdp.queue = UInt32(try OptionValue.integer(flag, value, in: 0...4095))
                case _ where ParallelOptions.flags.contains(flag):
                    try o.parallel.take(flag, value)
                default:
                    guard NatOptions.flags.contains(flag) else {
                        preconditionFailure("an option in OptionTable that the parser does not know: \(flag)")
                    }
                    do { try nat.take(flag, value) } catch { throw ConfigurationError(error.message) }
                }
            } catch {
                guard let origin = setting.origin else { throw UsageError(error.message) }
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
        if o.name.isEmpty { o.name = inName + "-" + outName }
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
        if o.natLog != nil && !vlanNat {
            throw UsageError("--nat-log only applies with --vlan-nat")
        }
        if seen.contains("nat-steering") && !vlanNat {
            throw UsageError("--nat-steering only applies with --vlan-nat")
        }
        if seen.contains("remote-frees") && o.allocator == .plain {
            throw UsageError("--remote-frees only applies with --alloc cache (plain allocation has no home cache)")
        }
        if group != nil && user == nil {
            throw UsageError("--group only applies with --user")
        }
        if let user {
            let found: (uid: UInt32, gid: UInt32)
            do { found = try Privileges.lookupUser(user) } catch { throw UsageError("--user: " + error.message) }
            var gid = found.gid
            if let group {
                do { gid = try Privileges.lookupGroup(group) } catch { throw UsageError("--group: " + error.message) }
            }
            o.privileges = Privileges.Target(user: user, uid: found.uid, group: group, gid: gid)
        }
        try checkIO(&o, seen: seen)
        if vlanNat {
            do { o.mode = .vlanNat(try nat.config()) } catch { throw UsageError(error.message) }
        } else if !vlanMaps.isEmpty {
            do { o.mode = .vlanMap(try VlanMap(specs: vlanMaps, passUnmapped: vlanPassUnmapped)) }
            catch { throw UsageError(error.message) }
        }
        if let f = o.filter, let problem = PcapFilter.check(f, snaplen: o.snaplen) {
            throw UsageError("--filter '\(f)': \(problem)")
        }
        return o
    }

    /// `--io` against the options that only one kind of I/O has. With `--io xdp` a pcap-only
    /// option is a usage error; with `--io auto` it makes auto choose pcap (`xdpExcludedBy`).
    private static func checkIO(_ o: inout Options, seen: Set<String>) throws(UsageError) {
        for name in ["xdp-mode", "xdp-zero-copy", "xdp-queue"] where seen.contains(name) && o.io == .pcap {
            throw UsageError("--\(name) only applies with --io xdp or --io auto")
        }
        if o.xdp.zeroCopy && o.xdp.mode == .generic {
            throw UsageError("--xdp-zero-copy needs native XDP: use --xdp-mode native or auto, not generic")
        }
        guard o.io != .pcap else { return }
        var excluded: String?
        // --nat-steering chooses the fanout program; over xdp the NIC's RSS hash picks the queue.
        for name in ["buffer-size", "qdisc-bypass", "tx-ring", "fanout-rollover", "fanout-defrag", "nat-steering"]
        where seen.contains(name) {
            excluded = "--\(name) only applies with --io pcap"
            break
        }
        if let excluded {
            if o.io == .xdp { throw UsageError(excluded) }
            o.xdpExcludedBy = excluded
        }
    }

    private static func nonEmpty(_ flag: String, _ value: String) throws(ConfigurationError) -> String {
        guard !value.isEmpty else { throw ConfigurationError("\(flag): the name is empty") }
        return value
    }
}
