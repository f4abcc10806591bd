import Telemetry
import BufferCache
import PcapngCapture
import Pipeline
import ProcessControl
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// The reports made while running and at the end, from the same values: the summary (also as
/// a SIGUSR1 snapshot), the metrics file, the drop capture's counts. Used by the main thread
/// (the supervisor loop) and, for summaries only, by the control socket's thread; workers never
/// write a report.
final class Reporter: @unchecked Sendable {
    let options: Options
    let pool: HeadPool?
    let ports: Ports
    /// `--capture-drops`, shared with the workers (their drop sink).
    let capture: DropCapture?
    let metrics: AtomicFile?
    /// CLOCK_MONOTONIC at the start (elapsed), and the Unix time then (the metrics' start time).
    let startTime: UInt64
    let startUnixTime: Double
    private let workers: () -> [WorkerSnapshot]
    /// The last metrics write failed (warned once until one succeeds again).
    private var metricsFailing = false
    /// The control socket's thread asks for summaries too: one at a time (libpcap accumulates
    /// the kernel's counters in its handle when they are read).
    private let summaryLock = PthreadLocked(())

    /// Opens the capture file and writes the metrics file once (all zeros), so that a path that
    /// cannot be written is an error at the start (exit status 1), not a warning later.
    init(options: Options, ports: Ports, pool: HeadPool?, startTime: UInt64,
         workers: @escaping () -> [WorkerSnapshot]) throws(RuntimeError) {
        self.options = options
        self.ports = ports
        self.pool = pool
        self.startTime = startTime
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        startUnixTime = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        self.workers = workers
        if let path = options.captureDrops {
            do {
                capture = try DropCapture(path: path, interfaces: [options.inName, options.outName],
                                          limit: options.captureLimit)
            } catch {
                throw RuntimeError(error.message)
            }
        } else {
            capture = nil
        }
        metrics = options.metricsFile.map { AtomicFile(path: $0) }
        if let metrics {
            do { try metrics.write(Metrics.text(summary(stop: .running), startTime: startUnixTime, up: true)) }
            catch { throw RuntimeError("--metrics-file: " + error.message) }
        }
    }

    /// How often the metrics file is rewritten: `--metrics-interval`, else `--stats`, else 10 s.
    var metricsInterval: Double? {
        metrics == nil ? nil : options.metricsInterval ?? options.statsInterval ?? 10
    }

    /// The summary as of now (the workers' last publish).
    func summary(stop: StopReason) -> Summary {
        summaryLock.withLock { _ in makeSummary(stop: stop) }
    }

    private func makeSummary(stop: StopReason) -> Summary {
        // The totals are the workers' figures summed, read once: they always add up.
        let perWorker = workers()
        // AF_XDP: the sockets are read once, for their own counters and the kernel line.
        let report = ports.report()
        var s = Summary(run: options.run, totals: perWorker.reduce(Snapshot()) { $0 + $1.totals }, pool: pool?.stats,
                        kernel: report.kernel, elapsed: Double(monotonicNanoseconds() - startTime) / 1e9,
                        stop: stop)
        s.workers = perWorker
        s.xdp = report.xdp
        s.capture = capture?.counts
        return s
    }

    /// SIGUSR1: the summary so far, `stopped_by` "running": one JSON line on stdout with
    /// `--json`, else the text lines on stderr (also with `--quiet`: it was asked for).
    func printSnapshot() {
        let s = summary(stop: .running)
        if options.json {
            print(s.json())
            fflush(nil)  // stdout is a file or a pipe: fully buffered
        } else {
            for l in s.textLines() { Log.info(l) }
        }
    }

    /// Rewrites the metrics file from `summary`; a failure is warned about once, until a write
    /// succeeds again.
    func writeMetrics(_ summary: Summary, up: Bool) {
        guard let metrics else { return }
        do {
            try metrics.write(Metrics.text(summary, startTime: startUnixTime, up: up))
            metricsFailing = false
        } catch {
            if !metricsFailing { Log.warning("--metrics-file: " + error.message) }
            metricsFailing = true
        }
    }

    /// The end of the run, after every worker has stopped: the capture file closed, the last
    /// metrics written from the final summary.
    func finish(_ summary: Summary) {
        writeMetrics(summary, up: false)
    }
}

extension Options {
    /// What the reports say of this run.
    var run: RunDescription {
        RunDescription(version: forwarderVersion, inName: inName, outName: outName, oneWay: oneWay, mode: mode.name,
                       allocator: allocator.rawValue, cachePreset: cachePreset.rawValue,
                       remoteFrees: allocator == .cache ? parallel.remoteFrees.rawValue : "none", burst: burst,
                       debugHeads: debugHeads, filter: filter, captureDrops: captureDrops, captureLimit: captureLimit)
    }
}
