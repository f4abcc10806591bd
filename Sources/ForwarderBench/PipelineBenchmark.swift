import BufferCache
import Nat44
import PacketFormats
import Pipeline
import VlanTranslation
#if canImport(Glibc)
import Glibc
#endif

/// `forwarder-bench pipeline`: ns per frame through the real `Worker` on in-memory ports, one
/// thread, the kernel out of the way. RX copies each frame into its head (as the pcap port's
/// callback does), the processor runs, TX copies it out (as a send would), the heads go back to
/// the allocator in bulk. The worker is driven with `step(now:)` in a loop, as `Worker.run` does
/// without the poll(). Per mode × frame size the three allocators (cache kernel-2021, cache
/// kernel-2025, plain) each get their own worker; after an untimed warm-up round per worker the
/// timed rounds alternate A B C A B C. Every round checks that every frame offered came out
/// (and, for NAT, came out translated), and stops the run if not.
struct PipelineBenchmark {
    enum Mode: String, CaseIterable {
        /// nat2: the NAT gateway as two workers with hand-off (`HandOffBenchmark.swift`);
        /// nat2-threads: the same on two threads (`ThreadedHandOffBenchmark.swift`), only when asked.
        case l2, vlan, nat, nat2
        case nat2Threads = "nat2-threads"

        /// What runs without `--mode`.
        static let defaults: [Mode] = [.l2, .vlan, .nat, .nat2]
    }

    struct Options {
        var json = false
        /// Also write the JSON lines to this file (the text table still goes to stdout).
        var jsonPath: String?
        var rounds = defaultRounds
        /// Frames offered per round per worker (NAT: both directions together).
        var frames = defaultFrames
        var modes: [Mode] = Mode.defaults
        var natFlows = [1, 10_000]
        var sizes = [64, 1514]
        var vlanMap = ["10:20"]
        var burst = 32
        /// The nat mode's `--mss-clamp`.
        var mssClamp = NatMSSClamp.off

        static let quickRounds = 1
        static let quickFrames = 20_000
        static let defaultRounds = 7
        static let defaultFrames = 1 << 20
        static let sizeRange = 60...1514
        static let flowRange = 1...50_000
    }

    struct Variant {
        let allocator: String
        let preset: String?
        var name: String { preset.map { "\(allocator) \($0)" } ?? allocator }
    }

    /// In the order the rounds alternate; index 0 is the reference of the ratios.
    static let variants = [Variant(allocator: "cache", preset: "kernel-2021"),
                           Variant(allocator: "cache", preset: "kernel-2025"),
                           Variant(allocator: "plain", preset: nil)]

    struct Row {
        let mode: Mode
        let flows: Int
        let frameBytes: Int
        let variant: Variant
        let summary: Summary
        /// This row's median over the kernel-2021 cache's median, same case (nil for nat2, which
        /// runs that cache alone).
        let ratioToCache2021: Double?
        /// Plain median over the kernel-2021 cache's median (on the plain row only).
        let plainOverCache: Double?
        /// Pool refills and flushes per 1000 frames over the timed rounds (nil for plain).
        let refillsPerKiloframe: Double?
        let flushesPerKiloframe: Double?
        /// nat2: which share of the frames lands on the worker that does not own it.
        var handedOff: HandedOff? = nil
        /// nat2-threads: CPU ns per frame, both threads together.
        var cpuSummary: Summary? = nil
    }

    /// What one round measured.
    struct RoundResult {
        var nsPerFrame: Double
        var frames: Int
        var refills: UInt64
        var flushes: UInt64
        /// nat2-threads: both threads' CPU time per frame.
        var cpuNsPerFrame: Double? = nil
    }

    let options: Options

    func run() {
        if !options.json { printHeader() }
        var rows: [Row] = []
        for mode in options.modes {
            for size in options.sizes {
                switch mode {
                case .l2:
                    rows += report(runCase(L2Scenario(frameBytes: size)) { TransparentBridge() })
                case .vlan:
                    let s = VlanScenario(frameBytes: size, specs: options.vlanMap)
                    rows += report(runCase(s) { VlanTranslator(map: s.map) })
                case .nat:
                    for flows in options.natFlows {
                        let s = NatScenario(frameBytes: size, flows: flows, mssClamp: options.mssClamp)
                        rows += report(runCase(s) { NatProcessor(config: s.config) })
                    }
                case .nat2:
                    rows += report(runHandOffCase(frameBytes: size))
                case .nat2Threads:
                    rows += report(runThreadedHandOffCase(frameBytes: size))
                }
            }
        }
        if !options.json { printBars(rows) }
    }

    // MARK: one case

    /// Builds the three workers of one mode × size (× flows) case, prepares and warms each, runs
    /// the alternated rounds, and returns one row per allocator.
    func runCase<S: PipelineScenario, P: FrameProcessor & ~Copyable>(
        _ scenario: S, _ makeProcessor: () -> P) -> [Row] {
        let (inside, outside) = scenario.offered(options.frames)
        let labels = Self.variants.map { "\(scenario.label), \($0.name)" }
        let pool2021 = HeadPool(), pool2025 = HeadPool()
        guard let cache2021 = HeadCache(pool: pool2021, configuration: .kernel2021),
              let cache2025 = HeadCache(pool: pool2025, configuration: .kernel2025) else {
            benchFailure("no cache could be registered on a fresh pool")
        }
        var a = makeWorker(cache2021, makeProcessor(), scenario)
        var b = makeWorker(cache2025, makeProcessor(), scenario)
        var c = makeWorker(PlainAllocator(), makeProcessor(), scenario)
        scenario.prepare(&a, label: labels[0])
        scenario.prepare(&b, label: labels[1])
        scenario.prepare(&c, label: labels[2])
        // One untimed round per worker: faults in the frames, the heads, glibc's arenas.
        _ = round(&a, scenario, inside, outside, labels[0])
        _ = round(&b, scenario, inside, outside, labels[1])
        _ = round(&c, scenario, inside, outside, labels[2])
        var samples: [[RoundResult]] = [[], [], []]
        for _ in 0..<options.rounds {
            samples[0].append(round(&a, scenario, inside, outside, labels[0]))
            samples[1].append(round(&b, scenario, inside, outside, labels[1]))
            samples[2].append(round(&c, scenario, inside, outside, labels[2]))
        }
        finish(&a, labels[0])
        finish(&b, labels[1])
        finish(&c, labels[2])
        _ = consume a
        _ = consume b
        _ = consume c
        for (pool, label) in [(pool2021, labels[0]), (pool2025, labels[1])] where pool.stats.outstanding != 0 {
            benchFailure("\(label): \(pool.stats.outstanding) heads never came back to the pool")
        }
        let summaries = samples.map { Summary($0.map(\.nsPerFrame)) }
        let reference = summaries[0].median
        return Self.variants.indices.map { i in
            let isCache = Self.variants[i].allocator == "cache"
            let kiloframes = Double(samples[i].reduce(0) { $0 + $1.frames }) / 1000
            return Row(mode: scenario.mode, flows: scenario.flows, frameBytes: scenario.frameBytes,
                       variant: Self.variants[i], summary: summaries[i], ratioToCache2021: summaries[i].median / reference,
                       plainOverCache: isCache ? nil : summaries[i].median / reference,
                       refillsPerKiloframe: isCache ? Double(samples[i].reduce(0) { $0 + $1.refills }) / kiloframes : nil,
                       flushesPerKiloframe: isCache ? Double(samples[i].reduce(0) { $0 + $1.flushes }) / kiloframes : nil)
        }
    }

    func makeWorker<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable, S: PipelineScenario>(
        _ allocator: consuming A, _ processor: consuming P, _ scenario: S) -> Worker<A, P, MemoryPort> {
        var settings = WorkerSettings()
        settings.burst = options.burst
        return Worker(allocator: allocator, processor: processor,
                      inPort: MemoryPort(), outPort: MemoryPort(),
                      inputs: scenario.inputs, settings: settings, slot: StatsSlot<P.Counters>())
    }

    /// One round: offers `inside` frames on IN and `outside` on OUT, times the loop, checks that
    /// exactly the frames offered came out of the other port (and what the scenario checks on
    /// the processor's counters). Returns ns per frame forwarded and the allocator's pool traffic.
    func round<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable, S: PipelineScenario>(
        _ w: inout Worker<A, P, MemoryPort>, _ scenario: S, _ inside: Int, _ outside: Int,
        _ label: String) -> RoundResult {
        let before = w.processor.counters
        let allocatorBefore = w.allocator.counters
        let sentOut = w.outPort.sentCount, sentIn = w.inPort.sentCount
        let elapsed: UInt64
        do {
            elapsed = try timedLoop(&w, inside: inside, outside: outside)
        } catch {
            benchFailure("\(label): \(error.message)")
        }
        let forwardedOut = w.outPort.sentCount - sentOut   // IN -> OUT
        let forwardedIn = w.inPort.sentCount - sentIn      // OUT -> IN
        guard forwardedOut == inside && forwardedIn == outside else {
            benchFailure("\(label): offered \(inside) frames on IN and \(outside) on OUT, but \(forwardedOut) "
                + "came out of OUT and \(forwardedIn) out of IN")
        }
        if let problem = scenario.checkRound(before: before, after: w.processor.counters,
                                             inside: inside, outside: outside) {
            benchFailure("\(label): \(problem)")
        }
        let allocatorAfter = w.allocator.counters
        return RoundResult(nsPerFrame: Double(elapsed) / Double(forwardedOut + forwardedIn),
                           frames: forwardedOut + forwardedIn,
                           refills: allocatorAfter.refills - allocatorBefore.refills,
                           flushes: allocatorAfter.flushes - allocatorBefore.flushes)
    }

    /// The timed loop: nothing but the worker's own steps and the clock it reads per step, as in
    /// `Worker.run`. Out of line so that it is one symbol in a profile.
    @inline(never)
    func timedLoop<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
        _ w: inout Worker<A, P, MemoryPort>, inside: Int, outside: Int) throws(PortError) -> UInt64 {
        w.inPort.remaining = inside
        w.outPort.remaining = outside
        let start = monotonicNanoseconds()
        while w.inPort.remaining > 0 || w.outPort.remaining > 0 {
            _ = try w.step(now: monotonicNanoseconds())
        }
        return monotonicNanoseconds() - start
    }

    /// Returns every head and checks the worker's own counters: no drop of any reason, every
    /// frame received was sent, every head got back.
    func finish<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
        _ w: inout Worker<A, P, MemoryPort>, _ label: String) {
        w.finish()
        guard let stats = w.slot.read() else { benchFailure("\(label): the worker published no counters") }
        let total = stats.directions.0 + stats.directions.1
        if total.dropsTotal != 0 {
            let reasons = DropReason.allCases.filter { total[$0] > 0 }.map { "\($0) \(total[$0])" }
            benchFailure("\(label): the worker dropped frames: \(reasons.joined(separator: ", "))")
        }
        if total.rxFrames != total.txFrames {
            benchFailure("\(label): the worker received \(total.rxFrames) frames and sent \(total.txFrames)")
        }
        if w.allocator.counters.inUse != 0 {
            benchFailure("\(label): \(w.allocator.counters.inUse) heads still out after finish()")
        }
    }

    // MARK: report

    func printHeader() {
        print("forwarder-bench pipeline: ns per frame through the real Worker on in-memory ports (RX copy, process, TX copy),")
        print("one thread, median of \(options.rounds) alternated rounds of \(options.frames) frames per allocator, burst \(options.burst)")
        print("vlan: --vlan-map \(options.vlanMap.joined(separator: " --vlan-map ")), one way;"
              + " nat: inside VLAN 10, outside VLAN 20, UDP, both directions (frames split evenly)")
        print("nat2: the same gateway as two workers with hand-off, stepped in turn on the one thread, "
              + "\(Self.handOffFlows) flows; all or half of the frames land on the worker that does not own them")
        print("")
        print(pad("mode", 6) + pad("flows", 7) + pad("bytes", 7) + pad("allocator", 10) + pad("preset", 13)
              + pad("ns/frame", 10) + pad("min–max", 17) + pad("Mframes/s", 11) + "plain/cache")
    }

    func report(_ rows: [Row]) -> [Row] {
        for r in rows {
            let s = r.summary
            if options.json || options.jsonPath != nil {
                var fields: [(String, String)] = [
                    ("mode", jsonString(r.mode.rawValue)), ("flows", "\(r.flows)"), ("frame_bytes", "\(r.frameBytes)"),
                    ("allocator", jsonString(r.variant.allocator)), ("preset", r.variant.preset.map(jsonString) ?? "null"),
                    ("ns_per_frame_median", fixed(s.median, 3)), ("ns_per_frame_min", fixed(s.min, 3)),
                    ("ns_per_frame_max", fixed(s.max, 3)), ("mframes_per_s", fixed(1000 / s.median, 3)),
                    ("ratio_to_cache_2021", r.ratioToCache2021.map { fixed($0, 3) } ?? "null"),
                    ("plain_over_cache", r.plainOverCache.map { fixed($0, 3) } ?? "null"),
                    ("pool_refills_per_kframe", r.refillsPerKiloframe.map { fixed($0, 2) } ?? "null"),
                    ("pool_flushes_per_kframe", r.flushesPerKiloframe.map { fixed($0, 2) } ?? "null"),
                    ("vlan_map", r.mode == .vlan ? jsonString(options.vlanMap.joined(separator: ",")) : "null"),
                    ("rounds", "\(options.rounds)"), ("frames", "\(options.frames)"), ("burst", "\(options.burst)"),
                ]
                if let h = r.handedOff { fields += [("workers", "2"), ("handed_off", jsonString(h.rawValue))] }
                if let c = r.cpuSummary {
                    fields += [("threads", "2"), ("cpus", Self.threadedCPUs.map { jsonString("\($0.0),\($0.1)") } ?? "null"),
                               ("cpu_ns_per_frame_median", fixed(c.median, 3)), ("cpu_ns_per_frame_min", fixed(c.min, 3)),
                               ("cpu_ns_per_frame_max", fixed(c.max, 3))]
                }
                if options.json { print(jsonLine(fields)) }
                if let file = jsonFile { fputs(jsonLine(fields) + "\n", file) }
            }
            if !options.json && r.cpuSummary != nil {
                printThreadedRow(r)
            } else if !options.json {
                print(pad(r.mode.rawValue, 6) + pad("\(r.flows)", 7) + pad("\(r.frameBytes)", 7)
                      + pad(r.variant.allocator, 10) + pad(r.variant.preset ?? "-", 13)
                      + pad(fixed(s.median, 2), 10) + pad(fixed(s.min, 2) + "–" + fixed(s.max, 2), 17)
                      + pad(fixed(1000 / s.median, 2), 11) + note(r))
            }
        }
        fflush(nil)
        return rows
    }

    /// A nat2-threads row: wall and CPU ns per frame (its own columns, under a header of its own).
    private func printThreadedRow(_ r: Row) {
        if r.handedOff == HandedOff.allCases.first {
            let cpus = Self.threadedCPUs.map { "pinned to CPUs \($0.0) and \($0.1)" } ?? "not pinned"
            print("")
            print("nat2-threads: the two workers on two threads, \(cpus); wall = first step to the later thread's last, "
                  + "CPU = both threads' CPU time")
            print(pad("mode", 14) + pad("flows", 7) + pad("bytes", 7) + pad("handed off", 12) + pad("wall ns/frame", 15)
                  + pad("min–max", 17) + pad("CPU ns/frame", 14) + "min–max")
        }
        let s = r.summary, c = r.cpuSummary!
        print(pad(r.mode.rawValue, 14) + pad("\(r.flows)", 7) + pad("\(r.frameBytes)", 7) + pad(r.handedOff!.rawValue, 12)
              + pad(fixed(s.median, 2), 15) + pad(fixed(s.min, 2) + "–" + fixed(s.max, 2), 17)
              + pad(fixed(c.median, 2), 14) + fixed(c.min, 2) + "–" + fixed(c.max, 2))
    }

    /// The table's last column: plain/cache, or nat2's share of frames handed off.
    private func note(_ r: Row) -> String {
        if let ratio = r.plainOverCache { return fixed(ratio, 2) }
        if let h = r.handedOff { return "2 workers, \(h) handed off" }
        return ""
    }

    /// `--json-out`, opened (truncated) when the benchmark starts.
    let jsonFile: UnsafeMutablePointer<FILE>?

    init(options: Options) {
        self.options = options
        if let path = options.jsonPath {
            guard let f = fopen(path, "w") else { benchFailure("--json-out \(path): cannot open for writing") }
            jsonFile = f
        } else {
            jsonFile = nil
        }
    }

    /// The project's bars for plain ÷ cache (kernel-2021), for the rows this run has.
    func printBars(_ rows: [Row]) {
        let bars = rows.compactMap { r -> (String, Double, Double)? in
            guard let ratio = r.plainOverCache else { return nil }
            switch (r.mode, r.flows, r.frameBytes) {
            case (.l2, _, 64): return ("l2 64 B", ratio, 1.5)
            case (.vlan, _, 64): return ("vlan 64 B", ratio, 1.5)
            case (.nat, 10_000, let bytes): return ("nat 10000 flows \(bytes) B", ratio, 1.25)
            default: return nil
            }
        }
        guard !bars.isEmpty else { return }
        print("")
        print("plain/cache (plain median ÷ cache kernel-2021 median) against the project's bars:")
        for (name, ratio, bar) in bars {
            print("  " + pad(name, 24) + pad(fixed(ratio, 2), 6) + pad("(bar ≥ \(fixed(bar, 2)))", 14)
                  + (ratio >= bar ? "met" : "NOT MET"))
        }
    }
}

/// Stops the benchmark: a run that lost, held or mistranslated a frame measured nothing.
func benchFailure(_ message: String) -> Never {
    let text = "forwarder-bench pipeline: FAILED: \(message)\n"
    fflush(nil)
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

/// Steps the worker until both ports have handed out their budget, then twice more (anything a
/// processor released late comes out). Untimed: for the preparation passes.
func drain<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
    _ w: inout Worker<A, P, MemoryPort>, label: String) {
    do {
        while w.inPort.remaining > 0 || w.outPort.remaining > 0 {
            _ = try w.step(now: monotonicNanoseconds())
        }
        for _ in 0..<2 { _ = try w.step(now: monotonicNanoseconds()) }
    } catch {
        benchFailure("\(label): \(error.message)")
    }
}
