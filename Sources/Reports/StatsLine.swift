import Telemetry

/// The `--stats` line: rates and drops over the last interval, from two snapshots.
public struct StatsLine {
    let run: RunDescription
    let startTime: UInt64
    /// Cache mode (hit rate, refills, flushes) rather than plain allocations.
    let pool: Bool
    private var previous: (time: UInt64, totals: Snapshot)
    private var previousWorkers: [WorkerSnapshot] = []

    public init(run: RunDescription, startTime: UInt64, pool: Bool) {
        self.run = run
        self.startTime = startTime
        self.pool = pool
        previous = (startTime, Snapshot())
    }

    /// The line for the interval since the last call, e.g.
    /// `[2.0s] in->out 745.1 kpps 381.5 Mbps | out->in ... | cache hit 99.61% refills 3 flushes 2`.
    public mutating func next(now: UInt64, workers: [WorkerSnapshot]) -> String {
        let s = workers.reduce(Snapshot()) { $0 + $1.totals }
        let seconds = Double(now - previous.time) / 1e9
        let old = previous.totals
        var parts: [String] = []
        for d in run.directions {
            let c = s.direction(d.index), o = old.direction(d.index)
            let frames = Double(c.txFrames - o.txFrames)
            let bits = Double(c.txBytes - o.txBytes) * 8
            var text = "\(d.name) \(formatFixed(frames / seconds / 1e3, 1)) kpps \(formatFixed(bits / seconds / 1e6, 1)) Mbps"
            let drops = c.dropText(since: o)
            if !drops.isEmpty { text += " drops " + drops }
            parts.append(text)
        }
        let a = s.allocator, o = old.allocator
        if pool {
            let gets = a.gets - o.gets
            let rate = gets == 0 ? "-" : formatFixed(Double(a.hits - o.hits) / Double(gets) * 100, 2) + "%"
            parts.append("cache hit \(rate) refills \(a.refills - o.refills) flushes \(a.flushes - o.flushes)")
        } else {
            parts.append("plain allocs \(a.gets - o.gets)")
        }
        if let nat = s.nat {
            parts.append("nat sessions \(nat.sessionsActive) drops \(nat.drops.total - (old.nat?.drops.total ?? 0))")
        }
        if workers.count > 1 {
            // Compact: each worker's received rate, then the hand-offs of the interval.
            let rates = workers.map { w -> String in
                let old = previousWorkers.first { $0.index == w.index }?.totals ?? Snapshot()
                let rx = (w.totals.directions.0.rxFrames + w.totals.directions.1.rxFrames)
                    - (old.directions.0.rxFrames + old.directions.1.rxFrames)
                return formatFixed(Double(rx) / seconds / 1e3, 1)
            }
            var text = "workers rx kpps " + rates.joined(separator: "/")
            let handedOff = s.handOffs.sent - old.handOffs.sent
            if run.mode == "vlan-nat" { text += " hand-offs \(handedOff)" }
            parts.append(text)
        }
        previous = (now, s)
        previousWorkers = workers
        return "[\(formatFixed(Double(now - startTime) / 1e9, 1))s] " + parts.joined(separator: " | ")
    }
}
