import BufferCache
import Nat44
import VlanTranslation
#if canImport(Glibc)
import Glibc
#endif

let usage = """
usage: forwarder-bench alloc [--json] [--rounds N] [--pairs N] [--cache-preset kernel-2021|kernel-2025]
       forwarder-bench layout [--json] [--rounds N] [--pairs N]
       forwarder-bench pipeline [--json] [--json-out FILE] [--rounds N] [--frames N] [--quick]
                                [--mode l2|vlan|nat|nat2|nat2-threads[,...]] [--sizes N[,N...]] [--flows N[,N...]]
                                [--vlan-map A:B] [--burst N] [--mss-clamp off|auto|N]

  alloc     ns per get+put pair: cache, plain malloc/free and a naive Swift class, bursts of
            1/16/32/64 on one thread and a two-thread hand-off; variants alternate round by round.
  layout    data in the head (one object) vs data from a second cache (head + fragment).
  pipeline  ns per frame through the real Worker on in-memory ports, one thread, no kernel: RX
            copies each frame into its head, the processor runs, TX copies it out. Modes l2
            (TransparentBridge, one way), vlan (--vlan-map, default 10:20, one way) and nat (the
            NAT44 gateway, inside VLAN 10 / outside VLAN 20, UDP sessions present, both directions
            on one worker, --flows sessions, default 1 and 10000), nat2 (that gateway as two workers
            with hand-off, stepped in turn on the one thread, 10000 flows, the cache kernel-2021 only:
            every frame, or every other one, lands on the worker that does not own it; the two
            alternate round by round), nat2-threads (nat2 with each worker on its own thread, pinned to
            CPUs 0 and 1; wall and CPU ns per frame; only when asked for); frame sizes --sizes (bytes
            without FCS, 60-1514, default 64,1514); allocators cache kernel-2021, cache kernel-2025
            and plain, alternating round by round within each case after an untimed warm-up round.
            --frames per round per allocator (default \(PipelineBenchmark.Options.defaultFrames); nat: both
            directions together), --rounds (default \(PipelineBenchmark.Options.defaultRounds)). Every round checks
            that every frame offered came out (translated) and stops with status 1 if not.
            --mss-clamp: the nat mode's gateway clamps TCP MSS (its frames are UDP: this measures
            what clamping being on costs the traffic that is not a SYN) [off].
            --quick: --rounds \(PipelineBenchmark.Options.quickRounds) --frames \(PipelineBenchmark.Options.quickFrames) unless given (a CI smoke test).
            --json: JSON lines instead of the table; --json-out FILE: the table, and the JSON lines in FILE.
  Build with -c release: `swift run -c release forwarder-bench alloc`.
"""

func fail(_ message: String) -> Never {
    let text = "forwarder-bench: \(message)\n\(usage)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

/// The command line after the command, read flag by flag.
struct Arguments {
    var rest: [String]
    var flag = ""

    mutating func next() -> String? {
        guard !rest.isEmpty else { return nil }
        flag = rest.removeFirst()
        return flag
    }

    mutating func value() -> String {
        guard !rest.isEmpty else { fail("\(flag) needs a value") }
        return rest.removeFirst()
    }

    mutating func positive() -> Int {
        let v = value()
        guard let n = Int(v), n > 0 else { fail("\(flag): '\(v)' is not a positive integer") }
        return n
    }

    /// `N[,N...]`, each in `range`.
    mutating func integers(in range: ClosedRange<Int>) -> [Int] {
        let v = value()
        let items = v.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
        guard !items.isEmpty, items.allSatisfy({ $0.map(range.contains) ?? false }) else {
            fail("\(flag): '\(v)' is not a comma-separated list of integers in \(range.lowerBound)-\(range.upperBound)")
        }
        return items.map { $0! }
    }
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { fail("no command") }
arguments.removeFirst()
if command == "--help" || command == "-h" { print(usage); exit(0) }
var args = Arguments(rest: arguments)

switch command {
case "alloc", "layout":
    var options = AllocBenchmark.Options()
    while let flag = args.next() {
        switch flag {
        case "--json": options.json = true
        case "--rounds": options.rounds = args.positive()
        case "--pairs": options.pairs = args.positive()
        case "--cache-preset":
            let v = args.value()
            guard let p = HeadCache.Configuration(preset: v) else {
                fail("--cache-preset: '\(v)' is not one of \(HeadCache.Configuration.presetNames.joined(separator: ", "))")
            }
            options.preset = p
        case "--help", "-h": print(usage); exit(0)
        default: fail("unknown option '\(flag)' for \(command)")
        }
    }
    if command == "alloc" { AllocBenchmark(options: options).run() } else { LayoutBenchmark(options: options).run() }

case "pipeline":
    typealias P = PipelineBenchmark.Options
    var options = P()
    var rounds: Int?, frames: Int?, quick = false
    var modes: [PipelineBenchmark.Mode] = []
    var vlanMap: [String] = []
    while let flag = args.next() {
        switch flag {
        case "--json": options.json = true
        case "--json-out": options.jsonPath = args.value()
        case "--rounds": rounds = args.positive()
        case "--frames": frames = args.positive()
        case "--quick": quick = true
        case "--mode":
            let v = args.value()
            for name in v.split(separator: ",", omittingEmptySubsequences: false) {
                guard let m = PipelineBenchmark.Mode(rawValue: String(name)) else {
                    fail("--mode: '\(name)' is not one of l2, vlan, nat, nat2, nat2-threads")
                }
                if !modes.contains(m) { modes.append(m) }
            }
        case "--sizes": options.sizes = args.integers(in: P.sizeRange)
        case "--flows": options.natFlows = args.integers(in: P.flowRange)
        case "--vlan-map": vlanMap.append(args.value())
        case "--mss-clamp":
            do { options.mssClamp = try NatConfig.parseMSSClamp(args.value()) } catch { fail(error.message) }
        case "--burst":
            options.burst = args.positive()
            guard options.burst <= 1024 else { fail("--burst: at most 1024") }
        case "--help", "-h": print(usage); exit(0)
        default: fail("unknown option '\(flag)' for pipeline")
        }
    }
    options.rounds = rounds ?? (quick ? P.quickRounds : P.defaultRounds)
    options.frames = frames ?? (quick ? P.quickFrames : P.defaultFrames)
    if !modes.isEmpty { options.modes = PipelineBenchmark.Mode.allCases.filter(modes.contains) }
    if !vlanMap.isEmpty { options.vlanMap = vlanMap }
    do {
        _ = try VlanMap(specs: options.vlanMap, passUnmapped: false)
    } catch {
        fail(error.message)
    }
    PipelineBenchmark(options: options).run()

default:
    fail("unknown command '\(command)'")
}
