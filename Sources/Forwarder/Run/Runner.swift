import Telemetry
import BufferCache
import ControlSocket
import ProcessControl
import Reports
import Nat44
import PcapIO
import PcapngCapture
import Pipeline
import VlanTranslation
import XdpIO

/// Opens the ports, runs the workers until stopped, and reports: the stats line while running,
/// the text or JSON summary at the end.
final class Runner {
    /// As parsed, but for the worker count, which the ports settle (`--workers auto` over AF_XDP).
    private(set) var options: Options
    /// Per thread: the worker it belongs to and how to read its last counters.
    private var readers: [(worker: Int, read: () -> Snapshot?)] = []
    private var threads: [JoinableThread] = []
    private let failure = FailureBox()
    /// `--vlan-nat`: what the NAT workers share (hand-off mesh, fragment directory).
    private var natGroup: NatWorkerGroup?
    /// `--capture-drops`: every worker's drop sink.
    private var capture: DropCapture?

    init(options: Options) { self.options = options }

    /// AF_XDP (xdp, or auto before it tries xdp): the release guard starts before any socket and
    /// before `--user`'s drop, and is waited for on every way out, so that no program is left
    /// attached when this process exits, whether it stops, fails to start or runs as a user.
    func run() throws(RuntimeError) -> Int32 {
        // The control socket first: a second forwarder on the same one fails before it touches
        // an interface (and while this process may still create it under /run).
        let listener = try openControl()
        do { return try run(listener: listener) } catch {
            listener?.close()
            throw error
        }
    }

    private func run(listener: ControlListener?) throws(RuntimeError) -> Int32 {
        var releaseGuard: XdpReleaseGuard?
        if options.io != .pcap && options.xdpExcludedBy == nil {
            do throws(XdpError) { releaseGuard = try XdpReleaseGuard(interfaces: (options.inName, options.outName)) }
            catch {
                // auto: no xdp without its guard (a program could outlive us), pcap instead, saying why.
                guard options.io == .auto else { throw RuntimeError(error.message, interface: error.interface) }
                options.xdpExcludedBy = error.message
            }
        }
        do { return try run(releaseGuard: releaseGuard, listener: listener) } catch {
            // The ports went with the inner run's scope: their sockets are closed.
            if let problem = releaseGuard?.finish() { Log.warning(problem) }
            throw error
        }
    }

    private func run(releaseGuard: XdpReleaseGuard?, listener: ControlListener?) throws(RuntimeError) -> Int32 {
        let ports = try Ports(options, steering: { [options] inside in Runner.steeringProgram(options, inside: inside) })
        let workers = ports.workers
        options.parallel.workers = workers
        // `--io auto` chose pcap: nothing for the guard to do, no root process to keep around.
        if case .pcap = ports.sets, let problem = releaseGuard?.finish() { Log.warning(problem) }
        if !options.quiet { for n in ports.startNotes { Log.info(n.message, interface: n.interface) } }
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
                                    workers: { [unowned self] in self.workerSnapshots() })
        capture = reporter.capture
        let natMailboxes: [WorkerMailbox<NatProcessor>]
        if case .vlanNat = mode { natMailboxes = (0..<workers).map { _ in WorkerMailbox() } } else { natMailboxes = [] }
        // `--user`: the sockets and files are open and no thread is running yet (the drop is per thread).
        if let target = options.privileges {
            do throws(PrivilegeError) { try Privileges.drop(to: target) } catch { throw RuntimeError(error.message) }
            // The metrics file is rewritten as the user from now on: fail now, not warn later.
            do { try reporter.metrics?.write(Metrics.text(reporter.summary(stop: .running), startTime: reporter.startUnixTime, up: true)) }
            catch { throw RuntimeError("--metrics-file: \(error.message) (as user '\(target.user)': its directory must be writable by that user)") }
        }
        for w in 0..<workers {
            switch mode {
            case .transparent:
                start(worker: w, inputs: [.inside], ports, pool, nat: { _ in nil }) { TransparentBridge() }
                if !options.oneWay { start(worker: w, inputs: [.outside], ports, pool, nat: { _ in nil }) { TransparentBridge() } }
            case .vlanMap(let map):
                start(worker: w, inputs: [.inside], ports, pool, nat: { _ in nil }) { VlanTranslator(map: map) }
                if !options.oneWay { start(worker: w, inputs: [.outside], ports, pool, nat: { _ in nil }) { VlanTranslator(map: map) } }
            case .vlanNat(let config):
                // One thread per worker serves both ports: each gateway has a single owner, and
                // frames of another worker's sessions go to it through the mesh (docs/nat.md).
                let group = natGroup ?? NatWorkerGroup(workers: workers)
                natGroup = group
                start(worker: w, inputs: [.inside, .outside], ports, pool, nat: { $0 }, handOff: group.endpoint(w),
                      mailbox: natMailboxes[w]) {
                    group.processor(config: config, worker: w)
                }
            }
        }
        let control = listener.map { listener in
            var nat: ControlService.Nat?
            if case .vlanNat(let config) = mode { nat = ControlService.Nat(mailboxes: natMailboxes, config: config) }
            let service = ControlService(summary: { text in
                let s = reporter.summary(stop: .running)
                return text ? s.textLines() : [s.json()]
            }, nat: nat)
            return ControlServer(listener: listener) { service.answer($0) }
        }
        control?.start()
        var statsLine = StatsLine(run: options.run, startTime: startTime, pool: pool != nil)
        superviseUntilStopped(startTime: startTime, statsLine: &statsLine, reporter: reporter)
        StopControl.request()
        // The control socket goes first: its requests would wait for workers that are stopping.
        control?.stop()
        for t in threads { t.join() }
        capture?.close()
        let summary = reporter.summary(stop: failure.message.map { .error($0) } ?? StopReason.now)
        // AF_XDP: the sockets close and the XDP programs come off before anything is printed: by
        // this process while it has the capabilities, else (`--user`) by the guard.
        if let problem = ports.close(detach: options.privileges == nil) { Log.warning(problem) }
        if let problem = releaseGuard?.finish() { Log.warning(problem) }
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
            if StopControl.takeHangup() {
                Log.warning("SIGHUP: reloading the configuration is not implemented yet; nothing changed "
                    + "(restart the forwarder to apply a changed file)")
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
                let line = statsLine.next(now: now, workers: workerSnapshots())
                if !options.quiet { Log.info(line) }
                nextStats = next + interval
                continue
            }
            let until = [deadline, nextStats, nextMetrics].compactMap { $0 }.min()
            let wait = until.map { Double($0 - now) / 1e9 } ?? 3600
            if StopControl.wait(seconds: wait) { return }
        }
    }

    /// Starts one thread of worker `worker` reading `inputs`, with its own allocator and
    /// processor; `nat` says what of the processor's counters the reports show.
    private func start<P: FrameProcessor & ~Copyable>(
        worker: Int, inputs: [Side], _ ports: Ports, _ pool: HeadPool?, nat: @escaping @Sendable (P.Counters) -> NatCounters?,
        handOff: HandOffEndpoint? = nil, mailbox: WorkerMailbox<P>? = nil, makeProcessor: @escaping () -> P
    ) {
        let slot = StatsSlot<P.Counters>()
        readers.append((worker, {
            slot.read().map { Snapshot(directions: $0.directions, allocator: $0.allocator, nat: nat($0.processor),
                                       handOffs: $0.handOffs) }
        }))
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
        cacheConfig.remoteFrees = options.parallel.remoteFrees
        let launcher = WorkerLauncher(settings: settings, allocator: pool.map { .cache($0, cacheConfig) } ?? .plain, failure: failure)
        let name = "fwd\(worker) " + (inputs.count == 2 ? "nat" : inputs[0] == .inside ? "in->out" : "out->in")
        let cpu = options.parallel.cpu(forWorker: worker)
        // One branch per port kind: each instantiates the Worker with its own port type.
        switch ports.sets {
        case .pcap(let set):
            threads.append(launcher.start(worker: worker, inputs: inputs, ports: set, name: name, cpu: cpu, slot: slot,
                                          handOff: handOff, mailbox: mailbox, makeProcessor: makeProcessor))
        case .xdp(let set):
            threads.append(launcher.start(worker: worker, inputs: inputs, ports: set, name: name, cpu: cpu, slot: slot,
                                          handOff: handOff, mailbox: mailbox, makeProcessor: makeProcessor))
        }
    }

    /// `--control`: the socket, bound and listening. Another forwarder serving the path is an
    /// error (exit 1); so is any failure at a path given with `--control`; at the standard path
    /// (`/run/forwarder` is root's) a warning, and the forwarder runs without one.
    private func openControl() throws(RuntimeError) -> ControlListener? {
        guard let control = options.control else { return nil }
        let path = control.path(name: options.name)
        do throws(ControlError) {
            return try ControlListener(path: path, group: options.privileges.flatMap { $0.group == nil ? nil : $0.gid })
        } catch {
            if error.kind == .inUse || control != .standard { throw RuntimeError("--control: " + error.message) }
            if !options.quiet {
                Log.warning("no control socket (\(error.message)): forwarder ctl cannot reach this forwarder; give "
                    + "--control PATH in a writable directory, or --control none")
            }
            return nil
        }
    }

    /// Each worker's counters (its threads summed), in worker order.
    private func workerSnapshots() -> [WorkerSnapshot] {
        (0..<options.parallel.workers).map { w in
            var total = Snapshot()
            for r in readers where r.worker == w {
                if let s = r.read() { total = total + s }
            }
            return WorkerSnapshot(index: w, cpu: options.parallel.cpu(forWorker: w), totals: total)
        }
    }
}
