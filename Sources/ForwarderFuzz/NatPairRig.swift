import BufferCache
import Nat44
import Pipeline

/// `nat2`: the NAT gateway as two workers with a hand-off mesh between them, both driven on this
/// one thread: record i goes to worker i mod 2, so frames land on the wrong worker and are handed
/// over, ARP is copied, fragments are looked up in the shared directory. After each input both
/// are stepped until their lanes are empty and every head they hold is returned (`releaseHeads`:
/// `finish` would wait for the other worker's thread), then the books are checked: every frame
/// received, no head anywhere but in the pool or the two caches, no head left on a lane.
/// The caches adopt remote frees, so no head waits in a return-home list between checks.
final class NatPairRig {
    let pool: HeadPool
    let group: NatWorkerGroup
    var first: Worker<HeadCache, NatProcessor, MemoryPort>
    var second: Worker<HeadCache, NatProcessor, MemoryPort>
    var now: UInt64 = 1_000_000_000
    var received: (UInt64, UInt64) = (0, 0)
    var inputs = 0

    init(config: NatConfig) {
        let pool = HeadPool(HeadPool.Configuration(headsPerSlab: 256))
        let group = NatWorkerGroup(workers: 2)
        self.pool = pool
        self.group = group
        var cacheConfig = HeadCache.Configuration.kernel2021
        cacheConfig.remoteFrees = .adopt
        var settings = WorkerSettings()
        settings.mtu = (config.insideMTU, config.outsideMTU)
        func worker(_ index: Int) -> Worker<HeadCache, NatProcessor, MemoryPort> {
            guard let cache = HeadCache(pool: pool, configuration: cacheConfig) else { fatalError("fuzz nat2: no cache slot") }
            var w = Worker(allocator: cache, processor: group.processor(config: config, worker: index),
                           inPort: MemoryPort(), outPort: MemoryPort(), inputs: [.inside, .outside],
                           settings: settings, slot: StatsSlot<NatCounters>(), handOff: group.endpoint(index))
            w.inPort.keepSent = false
            w.outPort.keepSent = false
            return w
        }
        first = worker(0)
        second = worker(1)
    }

    private func stepBoth() {
        do {
            _ = try first.step(now: now)
            _ = try second.step(now: now)
        } catch {
            fatalError("fuzz nat2: a memory port failed: \(error)")
        }
        now &+= 10_000
    }

    /// `frames[w]` is (IN frames, OUT frames) for worker w.
    private func feed(_ frames: [([[UInt8]], [[UInt8]])]) {
        first.inPort.setFrames(frames[0].0); first.inPort.remaining = frames[0].0.count
        first.outPort.setFrames(frames[0].1); first.outPort.remaining = frames[0].1.count
        second.inPort.setFrames(frames[1].0); second.inPort.remaining = frames[1].0.count
        second.outPort.setFrames(frames[1].1); second.outPort.remaining = frames[1].1.count
        var guardSteps = 0
        while first.inPort.remaining > 0 || first.outPort.remaining > 0 || second.inPort.remaining > 0
                || second.outPort.remaining > 0 {
            stepBoth()
            guardSteps += 1
            if guardSteps > 1_000_000 { fatalError("fuzz nat2: the workers stopped receiving") }
        }
        stepBoth()
        stepBoth()
    }

    func run(_ records: [FuzzRecord]) {
        var frames: [([[UInt8]], [[UInt8]])] = [([], []), ([], [])]
        var fed: (UInt64, UInt64) = (0, 0)
        for (i, r) in records.enumerated() {
            if r.advance > 0 {
                feed(frames)
                frames = [([], []), ([], [])]
                now &+= r.advance * 50_000_000
                stepBoth()
            }
            let w = i & 1
            if r.side == .inside { frames[w].0.append(r.bytes) } else { frames[w].1.append(r.bytes) }
            if w == 0 { fed.0 += 1 } else { fed.1 += 1 }
        }
        feed(frames)
        settle()
        inputs += 1
        check(fed: fed)
    }

    /// Steps both and returns their heads until no lane holds a frame (bounded: a hand-off that
    /// never ends is a bug).
    private func settle() {
        guard let mesh = group.mesh else { fatalError("fuzz nat2: no mesh") }
        for _ in 0..<100 {
            stepBoth()
            first.releaseHeads()
            second.releaseHeads()
            if mesh.queued == 0 { return }
        }
        fatalError("fuzz nat2: \(mesh.queued) heads still on the lanes after 100 passes")
    }

    private func check(fed: (UInt64, UInt64)) {
        guard let a = first.slot.read(), let b = second.slot.read() else { fatalError("fuzz nat2: a worker published nothing") }
        let rx = (a.directions.0.rxFrames + a.directions.1.rxFrames, b.directions.0.rxFrames + b.directions.1.rxFrames)
        if rx.0 - received.0 != fed.0 || rx.1 - received.1 != fed.1 {
            fatalError("fuzz nat2: frames lost before processing: worker 0 received \(rx.0 - received.0) of \(fed.0), "
                + "worker 1 \(rx.1 - received.1) of \(fed.1)")
        }
        received = rx
        if a.handOffs.sent + b.handOffs.sent != a.handOffs.received + b.handOffs.received {
            fatalError("fuzz nat2: \(a.handOffs.sent + b.handOffs.sent) frames handed off, "
                + "\(a.handOffs.received + b.handOffs.received) taken off the lanes")
        }
        let outstanding = pool.stats.outstanding
        let cached = first.allocator.cachedCount + second.allocator.cachedCount
        if outstanding != cached {
            fatalError("fuzz nat2: \(outstanding - cached) heads leaked (pool outstanding \(outstanding), cached \(cached))")
        }
    }
}
