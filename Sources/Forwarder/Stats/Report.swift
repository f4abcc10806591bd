import BufferCache
import Pipeline

/// The stats line, the text summary and the JSON summary, all from the workers' published
/// counters and libpcap's kernel counters.
final class Report {
    unowned let runner: Runner
    private var previous: (time: UInt64, stats: Snapshot)

    init(runner: Runner) {
        self.runner = runner
        previous = (runner.startTime, Snapshot())
    }

    private var options: Options { runner.options }

    private func directionList(_ s: Snapshot) -> [(name: String, from: String, to: String, counters: DirectionCounters)] {
        var list = [("in->out", options.inName, options.outName, s.directions.0)]
        if !options.oneWay { list.append(("out->in", options.outName, options.inName, s.directions.1)) }
        return list
    }

    // MARK: stats line

    func printStatsLine(now: UInt64) {
        let s = runner.totals()
        let seconds = Double(now - previous.time) / 1e9
        let old = previous.stats
        var parts: [String] = []
        let oldDirections = [old.directions.0, old.directions.1]
        for (i, d) in directionList(s).enumerated() {
            let frames = Double(d.counters.txFrames - oldDirections[i].txFrames)
            let bits = Double(d.counters.txBytes - oldDirections[i].txBytes) * 8
            var text = "\(d.name) \(formatFixed(frames / seconds / 1e3, 1)) kpps \(formatFixed(bits / seconds / 1e6, 1)) Mbps"
            let drops = dropText(d.counters, minus: oldDirections[i])
            if !drops.isEmpty { text += " drops " + drops }
            parts.append(text)
        }
        if runner.pool != nil {
            let a = s.allocator, o = old.allocator
            let gets = a.gets - o.gets
            let rate = gets == 0 ? "-" : formatFixed(Double(a.hits - o.hits) / Double(gets) * 100, 2) + "%"
            parts.append("cache hit \(rate) refills \(a.refills - o.refills) flushes \(a.flushes - o.flushes)")
        } else {
            parts.append("plain allocs \(s.allocator.gets - old.allocator.gets)")
        }
        if let nat = s.nat {
            parts.append("nat sessions \(nat.sessionsActive) drops \(nat.drops.total - (old.nat?.drops.total ?? 0))")
        }
        let t = Double(now - runner.startTime) / 1e9
        printError("[\(formatFixed(t, 1))s] " + parts.joined(separator: " | "))
        previous = (now, s)
    }

    private func dropText(_ c: DirectionCounters, minus old: DirectionCounters = DirectionCounters()) -> String {
        let items = DropReason.allCases.compactMap { r -> String? in
            let n = c[r] - old[r]
            return n == 0 ? nil : "\(r.key) \(n)"
        }
        return items.joined(separator: ", ")
    }

    // MARK: summary

    func printSummary(elapsed: Double, reason: String) {
        let s = runner.totals()
        var lines = ["stopped \(reason) after \(formatFixed(elapsed, 1)) s"]
        for d in directionList(s) {
            let c = d.counters
            var line = "  \(d.name) \(d.from) -> \(d.to): rx \(c.rxFrames) frames \(c.rxBytes) bytes, "
                + "tx \(c.txFrames) frames \(c.txBytes) bytes, dropped \(c.dropsTotal)"
            let why = dropText(c)
            if !why.isEmpty { line += " (\(why))" }
            lines.append(line)
        }
        for (name, handle) in [(options.inName, runner.handles.0), (options.outName, runner.handles.1)] {
            if let k = handle.kernelStats() {
                lines.append("  kernel \(name): received \(k.received), dropped by the ring \(k.dropped), by the interface \(k.interfaceDropped)")
            }
        }
        let a = s.allocator
        if let pool = runner.pool {
            let p = pool.stats
            lines.append("  cache (\(options.cachePreset)): gets \(a.gets), hit rate \(formatFixed(a.hitRate * 100, 2))%, "
                + "refills \(a.refills) (\(a.refillHeads) heads), refill failures \(a.refillFailures), puts \(a.puts), "
                + "flushes \(a.flushes) (\(a.flushHeads) heads), remote frees \(a.remoteFrees)")
            lines.append("  pool: \(p.slabs) slabs, \(p.totalHeads) heads, \(p.outstanding) out of the pool, high water \(p.highWater)")
            if options.debugHeads {
                lines.append("  debug: double frees \(a.doubleFrees), writes after put \(a.writesAfterPut)")
            }
        } else {
            lines.append("  plain allocator: \(a.gets) heads allocated, \(a.puts) freed, \(a.refillFailures) failures")
        }
        if let nat = s.nat { lines.append(contentsOf: natSummaryLines(nat)) }
        for l in lines { printError(l) }
    }

    // MARK: JSON

    /// One JSON object on stdout; `error` is set when a worker failed (exit status 1).
    func printJSON(elapsed: Double, error: String? = nil) {
        let s = runner.totals()
        var root = JSONObject()
        root.add("version", forwarderVersion)
        root.add("in", options.inName)
        root.add("out", options.outName)
        root.add("mode", options.mode == .transparent ? "l2" : options.mode == .vlanMap ? "vlan-map" : "vlan-nat")
        root.add("alloc", options.alloc)
        root.add("burst", options.burst)
        root.add("elapsed_s", elapsed)
        let signal = StopControl.signal.load(ordering: .relaxed)
        root.add("stopped_by", error != nil ? "error" : signal == 2 ? "SIGINT" : signal == 15 ? "SIGTERM" : "duration")
        if let error { root.add("error", error) } else { root.addNull("error") }
        var directions: [JSONObject] = []
        for d in directionList(s) {
            let c = d.counters
            var o = JSONObject()
            o.add("name", d.name)
            o.add("from", d.from)
            o.add("to", d.to)
            o.add("rx_frames", c.rxFrames)
            o.add("rx_bytes", c.rxBytes)
            o.add("tx_frames", c.txFrames)
            o.add("tx_bytes", c.txBytes)
            o.add("drops", c.dropsTotal)
            var why = JSONObject()
            for r in DropReason.allCases { why.add(r.key, c[r]) }
            o.add("drops_by_reason", why)
            directions.append(o)
        }
        root.add("directions", directions)
        var kernel = JSONObject()
        for (name, handle) in [(options.inName, runner.handles.0), (options.outName, runner.handles.1)] {
            var k = JSONObject()
            if let st = handle.kernelStats() {
                k.add("received", st.received)
                k.add("dropped", st.dropped)
                k.add("if_dropped", st.interfaceDropped)
            }
            kernel.add(name, k)
        }
        root.add("pcap", kernel)
        let a = s.allocator
        var allocator = JSONObject()
        allocator.add("gets", a.gets)
        allocator.add("puts", a.puts)
        allocator.add("failures", a.refillFailures)
        root.add("allocator", allocator)
        if let pool = runner.pool {
            let p = pool.stats
            var cache = JSONObject()
            cache.add("preset", options.cachePreset)
            cache.add("gets", a.gets)
            cache.add("hits", a.hits)
            cache.add("hit_rate", a.hitRate)
            cache.add("refills", a.refills)
            cache.add("refill_heads", a.refillHeads)
            cache.add("refill_failures", a.refillFailures)
            cache.add("puts", a.puts)
            cache.add("flushes", a.flushes)
            cache.add("flush_heads", a.flushHeads)
            cache.add("remote_frees", a.remoteFrees)
            cache.add("remote_returns", a.remoteReturns)
            cache.add("in_use", a.inUse)
            cache.add("pool_slabs", p.slabs)
            cache.add("pool_heads", p.totalHeads)
            cache.add("pool_high_water", p.highWater)
            if options.debugHeads {
                cache.add("double_frees", a.doubleFrees)
                cache.add("writes_after_put", a.writesAfterPut)
            }
            root.add("cache", cache)
        } else {
            root.addNull("cache")
        }
        if let nat = s.nat { root.add("nat", natJSON(nat)) } else { root.addNull("nat") }
        print(root.text)
    }
}
