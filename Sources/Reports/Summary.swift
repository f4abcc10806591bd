import Telemetry
import BufferCache
import PcapngCapture
import Pipeline
import XdpIO

/// The end-of-run report, built from values only (the workers' last counters, the pool's and
/// the kernel's counters, how the run ended): the text summary on stderr, or one JSON object.
public struct Summary {
    public let run: RunDescription
    public let totals: Snapshot
    /// nil in plain mode.
    public let pool: HeadPool.Stats?
    public let kernel: [InterfaceKernelCounters]
    public let elapsed: Double
    public let stop: StopReason
    /// The drop capture's counts (`--capture-drops`), nil without one.
    public var capture: DropCapture.Counts? = nil
    /// Each worker's counters; `totals` is their sum.
    public var workers: [WorkerSnapshot] = []
    /// The AF_XDP sockets' counters, nil with pcap.
    public var xdp: XdpReport? = nil

    public init(run: RunDescription, totals: Snapshot, pool: HeadPool.Stats?, kernel: [InterfaceKernelCounters], elapsed: Double,
                stop: StopReason) {
        (self.run, self.totals, self.pool) = (run, totals, pool)
        (self.kernel, self.elapsed, self.stop) = (kernel, elapsed, stop)
    }

    private var stopText: String {
        switch stop {
        case .signal(2): "on SIGINT"
        case .signal(15): "on SIGTERM"
        case .signal(let n): "on signal \(n)"
        case .duration: "at the end of --duration,"
        case .error: "after an error"
        case .running: "(a snapshot on SIGUSR1: still running)"
        }
    }

    public func textLines() -> [String] {
        var lines = [stop == .running ? "running for \(formatFixed(elapsed, 1)) s \(stopText)"
                                      : "stopped \(stopText) after \(formatFixed(elapsed, 1)) s"]
        for d in run.directions {
            let c = totals.direction(d.index)
            var line = "  \(d.name) \(d.from) -> \(d.to): rx \(c.rxFrames) frames \(c.rxBytes) bytes, "
                + "tx \(c.txFrames) frames \(c.txBytes) bytes, dropped \(c.dropsTotal)"
            let why = c.dropText()
            if !why.isEmpty { line += " (\(why))" }
            lines.append(line)
        }
        for k in kernel {
            if let c = k.counters {
                lines.append("  kernel \(k.interface): received \(c.received), dropped by the ring \(c.dropped), by the interface \(c.interfaceDropped)")
            }
        }
        if let x = xdp { lines += xdpLines(x) }
        let a = totals.allocator
        if let p = pool {
            lines.append("  cache (\(run.cachePreset)): gets \(a.gets), hit rate \(formatFixed(a.hitRate * 100, 2))%, "
                + "refills \(a.refills) (\(a.refillHeads) heads), refill failures \(a.refillFailures), puts \(a.puts), "
                + "flushes \(a.flushes) (\(a.flushHeads) heads), remote frees \(a.remoteFrees + a.adopted) (\(a.adopted) adopted)")
            lines.append("  pool: \(p.slabs) slabs, \(p.totalHeads) heads, \(p.outstanding) out of the pool, high water \(p.highWater)")
            if run.debugHeads {
                lines.append("  debug: double frees \(a.doubleFrees), writes after put \(a.writesAfterPut)")
            }
        } else {
            lines.append("  plain allocator: \(a.gets) heads allocated, \(a.puts) freed, \(a.refillFailures) failures")
        }
        if let nat = totals.nat { lines += nat.summaryLines }
        if workers.count > 1 || totals.handOffs != HandOffCounters() { lines += workerLines() }
        if let c = capture, let path = run.captureDrops {
            lines.append("  drop capture \(path): \(c.written) frames written, \(c.skipped) skipped (--capture-limit \(run.captureLimit))")
        }
        return lines
    }

    public func json() -> String {
        var root = JSONObject()
        root.add("version", run.version)
        root.add("in", run.inName)
        root.add("out", run.outName)
        root.add("mode", run.mode)
        root.add("alloc", run.allocator)
        root.add("burst", run.burst)
        root.add("elapsed_s", elapsed)
        switch stop {
        case .error(let message):
            root.add("stopped_by", "error")
            root.add("error", message)
        case .signal(let n):
            root.add("stopped_by", n == 2 ? "SIGINT" : n == 15 ? "SIGTERM" : "signal \(n)")
            root.addNull("error")
        case .duration:
            root.add("stopped_by", "duration")
            root.addNull("error")
        case .running:
            root.add("stopped_by", "running")
            root.addNull("error")
        }
        var directions: [JSONObject] = []
        for d in run.directions {
            let c = totals.direction(d.index)
            var o = JSONObject()
            o.add("name", d.name)
            o.add("from", d.from)
            o.add("to", d.to)
            o.add(fields: [("rx_frames", c.rxFrames), ("rx_bytes", c.rxBytes), ("tx_frames", c.txFrames),
                           ("tx_bytes", c.txBytes), ("drops", c.dropsTotal)])
            var why = JSONObject()
            for r in DropReason.allCases { why.add(r.key, c[r]) }
            o.add("drops_by_reason", why)
            directions.append(o)
        }
        root.add("directions", directions)
        var pcap = JSONObject()
        for k in kernel {
            var o = JSONObject()
            if let c = k.counters { o.add(fields: c.fields) }
            pcap.add(k.interface, o)
        }
        root.add("pcap", pcap)
        root.add("io", xdp == nil ? "pcap" : "xdp")
        if let x = xdp { root.add("xdp", xdpJSON(x)) } else { root.addNull("xdp") }
        var allocator = JSONObject()
        allocator.add(fields: totals.allocator.allocatorTable)
        root.add("allocator", allocator)
        if let p = pool { root.add("cache", cacheJSON(totals.allocator, p)) } else { root.addNull("cache") }
        if let nat = totals.nat { root.add("nat", natJSON(nat)) } else { root.addNull("nat") }
        root.add("remote_frees_policy", run.remoteFrees)
        root.add("workers", workers.map(workerJSON))
        if let c = capture, let path = run.captureDrops {
            var o = JSONObject()
            o.add("file", path)
            o.add("written", c.written)
            o.add("skipped", c.skipped)
            o.add("limit", run.captureLimit)
            root.add("capture", o)
        } else {
            root.addNull("capture")
        }
        return root.text
    }

    /// A line per interface: what its sockets took, sent (and copied), gave back, and what the
    /// kernel dropped.
    private func xdpLines(_ x: XdpReport) -> [String] {
        x.interfaces.map { i in
            var line = "  xdp \(i.name) (\(i.mode), \(x.queues.queueWords), \(x.zeroCopy ? "zero-copy" : "copy")): "
            guard let c = i.counters else { return line + "counters unreadable" }
            line += "rx \(c.rxFrames), tx \(c.txFrames) (\(c.txCopied) copied), completed \(c.txCompleted), "
                + "given back \(c.recycled)" + (run.filter == nil ? "" : " (\(c.filtered) filtered)") + ", kernel drops \(c.rxDropped) (RX ring full \(c.rxRingFull), "
                + "fill ring empty \(c.rxFillRingEmpty)), kick errors \(c.kickErrors)"
            return line
        }
    }

    private func xdpJSON(_ x: XdpReport) -> JSONObject {
        var o = JSONObject()
        o.add("first_queue", UInt64(x.queues.lowerBound))
        o.add("last_queue", UInt64(x.queues.upperBound))
        o.add("zero_copy", x.zeroCopy)
        var interfaces = JSONObject()
        for i in x.interfaces {
            var one = JSONObject()
            one.add("mode", i.mode)
            if let c = i.counters { one.add(fields: c.fields) }
            interfaces.add(i.name, one)
        }
        o.add("interfaces", interfaces)
        return o
    }

    private func cacheJSON(_ a: AllocatorCounters, _ p: HeadPool.Stats) -> JSONObject {
        var cache = JSONObject()
        cache.add("preset", run.cachePreset)
        cache.add(fields: a.cacheTable)
        cache.add("hit_rate", a.hitRate)
        cache.add("in_use", a.inUse)
        cache.add("pool_slabs", p.slabs)
        cache.add("pool_heads", p.totalHeads)
        cache.add("pool_high_water", p.highWater)
        if run.debugHeads {
            cache.add("double_frees", a.doubleFrees)
            cache.add("writes_after_put", a.writesAfterPut)
        }
        return cache
    }
}

extension Summary {
    /// `  worker 0 (cpu 1): rx 10 frames, tx 10 frames, dropped 0, hand-offs sent 2 received 3 dropped 0, remote frees 3`
    func workerLines() -> [String] {
        workers.map { w in
            let t = w.totals, d = t.directions.0 + t.directions.1, h = t.handOffs
            var line = "  worker \(w.index)" + (w.cpu.map { " (cpu \($0))" } ?? "")
                + ": rx \(d.rxFrames) frames, tx \(d.txFrames) frames, dropped \(d.dropsTotal)"
            if workers.count > 1 { line += ", hand-offs sent \(h.sent) received \(h.received) dropped \(h.dropped)" }
            if pool != nil { line += ", remote frees \(t.allocator.remoteFrees + t.allocator.adopted)" }
            if let nat = t.nat { line += ", nat sessions \(nat.sessionsActive)" }
            return line
        }
    }

    /// One entry of the JSON `workers` array.
    func workerJSON(_ w: WorkerSnapshot) -> JSONObject {
        let t = w.totals, d = t.directions.0 + t.directions.1
        var o = JSONObject()
        o.add("worker", w.index)
        if let cpu = w.cpu { o.add("cpu", cpu) } else { o.addNull("cpu") }
        o.add(fields: [
            ("rx_frames", d.rxFrames), ("rx_bytes", d.rxBytes), ("tx_frames", d.txFrames), ("tx_bytes", d.txBytes),
            ("drops", d.dropsTotal), ("hand_offs_sent", t.handOffs.sent), ("hand_offs_received", t.handOffs.received),
            ("hand_off_drops", t.handOffs.dropped), ("remote_frees", t.allocator.remoteFrees + t.allocator.adopted),
            ("remote_returns", t.allocator.remoteReturns), ("heads_allocated", t.allocator.gets),
        ])
        if let nat = t.nat { o.add("nat_sessions", nat.sessionsActive) } else { o.addNull("nat_sessions") }
        return o
    }
}
