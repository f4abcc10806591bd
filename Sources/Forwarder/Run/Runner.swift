import BufferCache
import CPcap
import Nat44
import NetDevice
import PcapIO
import Pipeline
import VlanTranslation
#if canImport(Glibc)
import Glibc
#endif

/// Sets everything up from the parsed options, runs the workers until stopped, reports.
final class Runner {
    let options: Options
    var inFacts: InterfaceFacts!
    var outFacts: InterfaceFacts!
    var handles: (PcapPort.Handle, PcapPort.Handle)!
    var pool: HeadPool?
    /// One reader per worker: its last published counters as a snapshot.
    var readers: [() -> Snapshot?] = []
    var threads: [WorkerThread] = []
    let failure = FailureBox()
    var startTime: UInt64 = 0

    init(options: Options) { self.options = options }

    /// Validates everything that can be checked before touching an interface, in order: usage
    /// problems first (exit 2), then the system (exit 1).
    func prepare() throws -> (vlanMap: VlanMap?, nat: NatConfig?) {
        if let f = options.filter {
            var errbuf = [CChar](repeating: 0, count: 512)
            if cpcap_check_filter(f, Int32(options.snaplen), &errbuf, errbuf.count) != 0 {
                throw UsageError("--filter '\(f)': \(String(cString: errbuf))")
            }
        }
        let vlanMap: VlanMap?
        do { vlanMap = options.mode == .vlanMap ? try VlanMap(specs: options.vlanMaps, passUnmapped: options.vlanPassUnmapped) : nil }
        catch { throw UsageError(error.message) }
        do {
            inFacts = try InterfaceFacts.lookup(options.inName)
            outFacts = try InterfaceFacts.lookup(options.outName)
        } catch { throw RuntimeError(error.message) }
        let nat: NatConfig?
        do { nat = options.mode == .vlanNat ? try makeNatConfig(options, inside: inFacts, outside: outFacts) : nil }
        catch { throw UsageError(error.message) }
        for f in [inFacts!, outFacts!] where !f.up {
            throw RuntimeError("\(f.name) is down; bring it up first: ip link set \(f.name) up")
        }
        return (vlanMap, nat)
    }

    func run() throws -> Int32 {
        let (vlanMap, nat) = try prepare()
        var capture = CaptureOptions()
        capture.snaplen = options.snaplen
        capture.bufferSize = options.bufferSize
        capture.filter = options.filter
        do {
            handles = (try PcapPort.Handle(name: options.inName, options: capture),
                       try PcapPort.Handle(name: options.outName, options: capture))
        } catch { throw RuntimeError(error.message) }
        // Warnings come after opening, so a permission error is not buried under them.
        if !options.quiet {
            for f in [inFacts!, outFacts!] {
                if !f.running { printError("warning: \(f.name) is up but has no carrier (link down): nothing will flow until it does") }
                for w in f.offloadWarnings() { printError("warning: " + w) }
            }
            if let nat { for w in natWarnings(nat, inside: inFacts, outside: outFacts) { printError("warning: " + w) } }
        }
        if options.alloc == "cache" {
            pool = HeadPool(.init(maxHeads: options.maxHeads))
        }
        StopControl.install()
        startTime = monotonicNanoseconds()
        switch options.mode {
        case .transparent:
            start(inputs: [.inside], nat: { _ in nil }) { TransparentBridge() }
            if !options.oneWay { start(inputs: [.outside], nat: { _ in nil }) { TransparentBridge() } }
        case .vlanMap:
            let map = vlanMap!
            start(inputs: [.inside], nat: { _ in nil }) { VlanTranslator(map: map) }
            if !options.oneWay { start(inputs: [.outside], nat: { _ in nil }) { VlanTranslator(map: map) } }
        case .vlanNat:
            // One thread serves both ports: the NAT state has a single owner (docs/nat.md).
            let config = nat!
            start(inputs: [.inside, .outside], nat: { $0 }) { NatProcessor(config: config) }
        }
        let report = Report(runner: self)
        superviseUntilStopped(report)
        StopControl.request()
        for t in threads { t.join() }
        let elapsed = Double(monotonicNanoseconds() - startTime) / 1e9
        if let message = failure.message {
            printError(message)
            // The counters up to the failure are still worth having.
            if options.json { report.printJSON(elapsed: elapsed, error: message) }
            else if !options.quiet { report.printSummary(elapsed: elapsed, reason: "after an error") }
            return 1
        }
        let signal = StopControl.signal.load(ordering: .relaxed)
        let reason = signal == SIGINT ? "on SIGINT" : signal == SIGTERM ? "on SIGTERM" : "at the end of --duration,"
        if options.json { report.printJSON(elapsed: elapsed) }
        else if !options.quiet { report.printSummary(elapsed: elapsed, reason: reason) }
        return 0
    }

    /// Prints a stats line each interval until a stop (signal, duration or a failed worker).
    private func superviseUntilStopped(_ report: Report) {
        let deadline = options.duration.map { startTime + UInt64($0 * 1e9) }
        var nextStats = options.statsInterval.map { startTime + UInt64($0 * 1e9) }
        while true {
            let now = monotonicNanoseconds()
            if let deadline, now >= deadline { return }
            if let next = nextStats, now >= next {
                if !options.quiet { report.printStatsLine(now: now) }
                nextStats = next + UInt64(options.statsInterval! * 1e9)
                continue
            }
            let until = [deadline, nextStats].compactMap { $0 }.min()
            let wait = until.map { Double($0 - now) / 1e9 } ?? 3600
            if StopControl.wait(seconds: wait) { return }
        }
    }

    /// Starts one worker thread reading `inputs`, with its own allocator and processor.
    private func start<P: FrameProcessor & ~Copyable>(inputs: [Side], nat: @escaping @Sendable (P.Counters) -> NatCounters?,
                                                      makeProcessor: @escaping () -> P) {
        let slot = StatsSlot<P.Counters>()
        readers.append {
            slot.read().map { Snapshot(directions: $0.directions, allocator: $0.allocator, nat: nat($0.processor)) }
        }
        var settings = WorkerSettings()
        settings.burst = options.burst
        settings.busyPoll = options.busyPoll
        settings.mtu = (inFacts.mtu, outFacts.mtu)
        settings.portNames = (options.inName, options.outName)
        if !options.quiet { settings.warn = { printError("warning: " + $0) } }
        let handles = self.handles!, pool = self.pool, failure = self.failure
        let cacheConfig: HeadCache.Configuration = {
            var c = HeadCache.Configuration(preset: options.cachePreset)!
            c.debugChecks = options.debugHeads
            return c
        }()
        let threadName = "fwd " + (inputs.count == 2 ? "nat" : inputs[0] == .inside ? "in->out" : "out->in")
        threads.append(WorkerThread {
            _ = cpcap_set_thread_name(threadName)
            let inPort = PcapPort(handle: handles.0, burst: settings.burst)
            let outPort = PcapPort(handle: handles.1, burst: settings.burst)
            do throws(PortError) {
                if let pool {
                    guard let cache = HeadCache(pool: pool, configuration: cacheConfig) else {
                        throw PortError("too many head caches on one pool")
                    }
                    var worker = Worker(allocator: cache, processor: makeProcessor(), inPort: inPort,
                                        outPort: outPort, inputs: inputs, settings: settings, slot: slot)
                    try worker.run(stop: StopControl.requested, wakeDescriptor: StopControl.pipe.read)
                } else {
                    var worker = Worker(allocator: PlainAllocator(), processor: makeProcessor(), inPort: inPort,
                                        outPort: outPort, inputs: inputs, settings: settings, slot: slot)
                    try worker.run(stop: StopControl.requested, wakeDescriptor: StopControl.pipe.read)
                }
            } catch {
                failure.record(error.message)
                StopControl.request()
            }
        })
    }

    /// Counters of all workers as of their last publish.
    func totals() -> Snapshot {
        var total = Snapshot()
        for read in readers {
            guard let s = read() else { continue }
            total.directions.0 = total.directions.0 + s.directions.0
            total.directions.1 = total.directions.1 + s.directions.1
            total.allocator = total.allocator + s.allocator
            if let n = s.nat { total.nat = n }
        }
        return total
    }
}

/// The first error a worker hit, for the runner to report.
final class FailureBox: @unchecked Sendable {
    private var text: String?
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func record(_ message: String) {
        pthread_mutex_lock(&lock)
        if text == nil { text = message }
        pthread_mutex_unlock(&lock)
    }
    var message: String? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return text
    }
}
