import Telemetry
import BufferCache
import ProcessControl
import Nat44
import PcapIO
import PcapngCapture
import Pipeline
import VlanTranslation
#if canImport(Glibc)
import Glibc
#endif

/// Opens the ports, runs the workers until stopped, and reports: the stats line while running,
/// the text or JSON summary at the end.
final class Runner {
    let options: Options
    private var readers: [() -> Snapshot?] = []
    private var threads: [JoinableThread] = []
    private let failure = FailureBox()
    /// `--capture-drops`: every worker's drop sink.
    private var capture: DropCapture?

    init(options: Options) { self.options = options }

    func run() throws(RuntimeError) -> Int32 {
        let ports = try Ports(options)
        var mode = options.mode
        if case .vlanNat(let partial) = mode { mode = .vlanNat(try ports.complete(partial)) }
        // Warnings come after opening, so a permission error is not buried under them.
        if !options.quiet {
            var isNat = false
            if case .vlanNat = mode { isNat = true }
            for w in ports.warnings(nat: isNat) { Log.warning(w.message, interface: w.interface) }
        }
        let pool = options.allocator == .cache ? HeadPool(.init(maxHeads: options.maxHeads)) : nil
        StopControl.install()
        let startTime = monotonicNanoseconds()
        let reporter = try Reporter(options: options, ports: ports, pool: pool, startTime: startTime,
                                    totals: { [unowned self] in self.totals() })
        capture = reporter.capture
        // `--user`: the sockets and files are open and no thread is running yet (the drop is per thread).
        if let target = options.privileges {
            do throws(PrivilegeError) { try Privileges.drop(to: target) } catch { throw RuntimeError(error.message) }
            // The metrics file is rewritten as the user from now on: fail now, not warn later.
            do { try reporter.metrics?.write(Metrics.text(reporter.summary(stop: .running), startTime: reporter.startUnixTime, up: true)) }
            catch { throw RuntimeError("--metrics-file: \(error.message) (as user '\(target.user)': its directory must be writable by that user)") }
        }
        switch mode {
        case .transparent:
            start(inputs: [.inside], ports, pool, nat: { _ in nil }) { TransparentBridge() }
            if !options.oneWay { start(inputs: [.outside], ports, pool, nat: { _ in nil }) { TransparentBridge() } }
        case .vlanMap(let map):
            start(inputs: [.inside], ports, pool, nat: { _ in nil }) { VlanTranslator(map: map) }
            if !options.oneWay { start(inputs: [.outside], ports, pool, nat: { _ in nil }) { VlanTranslator(map: map) } }
        case .vlanNat(let config):
            // One thread serves both ports: the NAT state has a single owner (docs/nat.md).
            start(inputs: [.inside, .outside], ports, pool, nat: { $0 }) { NatProcessor(config: config) }
        }
        var statsLine = StatsLine(options: options, startTime: startTime, pool: pool != nil)
        superviseUntilStopped(startTime: startTime, statsLine: &statsLine, reporter: reporter)
        StopControl.request()
        for t in threads { t.join() }
        capture?.close()
        let summary = reporter.summary(stop: failure.message.map { .error($0) } ?? StopReason.now)
        reporter.finish(summary)
        if case .error(let message) = summary.stop { Log.error(message, interface: Log.interface(of: message, among: [options.inName, options.outName])) }
        if options.json { print(summary.json()) } else if !options.quiet { for l in summary.textLines() { Log.info(l) } }
        if case .error = summary.stop { return 1 }
        return 0
    }

    /// Prints a stats line each interval, rewrites the metrics file each of its intervals and
    /// prints a snapshot on SIGUSR1, until a stop (signal, duration or a failed worker).
    private func superviseUntilStopped(startTime: UInt64, statsLine: inout StatsLine, reporter: Reporter) {
        let deadline = options.duration.map { startTime + UInt64($0 * 1e9) }
        let interval = options.statsInterval.map { UInt64($0 * 1e9) }
        var nextStats = interval.map { startTime + $0 }
        let metricsInterval = reporter.metricsInterval.map { UInt64($0 * 1e9) }
        var nextMetrics = metricsInterval.map { startTime + $0 }
        while true {
            let now = monotonicNanoseconds()
            if let deadline, now >= deadline { return }
            if StopControl.takeSnapshotRequest() {
                reporter.printSnapshot()
                continue
            }
            if let next = nextMetrics, let metricsInterval, now >= next {
                reporter.writeMetrics(reporter.summary(stop: .running), up: true)
                var following = next + metricsInterval
                while following <= now { following += metricsInterval }
                nextMetrics = following
                continue
            }
            if let next = nextStats, let interval, now >= next {
                let line = statsLine.next(now: now, totals: totals())
                if !options.quiet { Log.info(line) }
                nextStats = next + interval
                continue
            }
            let until = [deadline, nextStats, nextMetrics].compactMap { $0 }.min()
            let wait = until.map { Double($0 - now) / 1e9 } ?? 3600
            if StopControl.wait(seconds: wait) { return }
        }
    }

    /// Starts one worker thread reading `inputs`, with its own allocator and processor; `nat`
    /// says what of the processor's counters the reports show.
    private func start<P: FrameProcessor & ~Copyable>(
        inputs: [Side], _ ports: Ports, _ pool: HeadPool?, nat: @escaping @Sendable (P.Counters) -> NatCounters?,
        makeProcessor: @escaping () -> P
    ) {
        let slot = StatsSlot<P.Counters>()
        readers.append {
            slot.read().map { Snapshot(directions: $0.directions, allocator: $0.allocator, nat: nat($0.processor)) }
        }
        var settings = WorkerSettings()
        settings.burst = options.burst
        settings.busyPoll = options.busyPoll
        settings.mtu = (ports.facts.0.mtu, ports.facts.1.mtu)
        settings.portNames = (options.inName, options.outName)
        let names = [options.inName, options.outName], input = inputs.count == 1 ? (inputs[0] == .inside ? names[0] : names[1]) : nil
        if !options.quiet { settings.warn = { Log.warning($0, interface: input ?? Log.interface(of: $0, among: names)) } }
        settings.dropSink = capture
        var cacheConfig = options.cachePreset.configuration
        cacheConfig.debugChecks = options.debugHeads
        let handles = ports.handles, failure = self.failure
        let threadName = "fwd " + (inputs.count == 2 ? "nat" : inputs[0] == .inside ? "in->out" : "out->in")
        threads.append(JoinableThread(name: threadName) {
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

    /// Counters of all workers as of their last publish, summed.
    private func totals() -> Snapshot {
        var total = Snapshot()
        for read in readers {
            if let s = read() { total = total + s }
        }
        return total
    }
}
