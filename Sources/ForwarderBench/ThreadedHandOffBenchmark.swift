import BufferCache
import Nat44
import Pipeline
import ProcessControl
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `forwarder-bench pipeline --mode nat2-threads`: the `nat2` case with each worker on its own
/// thread (pinned to CPU 0 and 1 when the process may run on both), so that a hand-off costs what
/// it costs across cores: the lanes' indices and slots move between the two caches. Same gateway,
/// frames, variants (`all`, `half`) and checks as `nat2`; a round ends when every frame offered
/// has come out of its owner's port. Reported per frame: wall time (first step to the later
/// thread's last) and CPU time (both threads' CLOCK_THREAD_CPUTIME_ID over their loops, including
/// the steps a thread spins while the other finishes or catches up).
///
/// Pacing: each thread gives its input port frames in chunks, and only while the frames it has
/// received and not yet seen come out (of its own port or the other worker's) leave room for a
/// chunk under half a lane. A lane that fills drops (`hand_off`), which would end the run; on a
/// shared machine one thread can be descheduled for milliseconds, so the other waits instead.
/// The bound is read from an atomic the other thread stores once per step, and loaded once per
/// chunk while the bound is not reached.
extension PipelineBenchmark {
    /// Frames each thread may have in flight towards the other: half of the mesh's default lane
    /// (`HandOffMesh(workers:laneCapacity: 1024)`, as `NatWorkerGroup` makes it).
    static let threadedInFlight = 512
    static let threadedChunk = 128

    /// A worker on the heap, so that a thread can step it (a `Worker` is ~Copyable).
    final class PairWorkerBox {
        var worker: PairWorker
        init(_ worker: consuming PairWorker) { self.worker = worker }
    }

    /// What one thread writes, alone on its cache lines: the count the other thread reads while
    /// both run, and its times when it stops.
    final class ThreadSlot: @unchecked Sendable {
        private let before: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
        /// Frames that came from the other worker's port and went out of this one's.
        let fromOther = Atomic<Int>(0)
        let end = Atomic<UInt64>(0)
        let cpu = Atomic<UInt64>(0)
        private let after: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// What the two threads of a round share.
    final class ThreadedRound: @unchecked Sendable {
        let ready = Atomic<Int>(0)
        let go = Atomic<Bool>(false)
        let done = Atomic<Int>(0)
        let slots = [ThreadSlot(), ThreadSlot()]
    }

    /// The CPUs the two threads are pinned to, or nil when the process may not run on both 0 and 1.
    static var threadedCPUs: (Int, Int)? {
        JoinableThread.onlineCPUs >= 2 && JoinableThread.mayRun(on: 0) && JoinableThread.mayRun(on: 1) ? (0, 1) : nil
    }

    func runThreadedHandOffCase(frameBytes: Int) -> [Row] {
        let scenario = NatScenario(frameBytes: frameBytes, flows: Self.handOffFlows)
        let label = "nat2-threads \(scenario.flows) flows \(frameBytes) B"
        let pool = HeadPool()
        let samples = threadedRounds(scenario, pool, label: label)
        // The workers (and their caches) are gone with `threadedRounds`' boxes: every head is home.
        if pool.stats.outstanding != 0 {
            benchFailure("\(label): \(pool.stats.outstanding) heads never came back to the pool")
        }
        return HandedOff.allCases.enumerated().map { i, v in
            let kiloframes = Double(samples[i].reduce(0) { $0 + $1.frames }) / 1000
            return Row(mode: .nat2Threads, flows: scenario.flows, frameBytes: frameBytes, variant: Self.variants[0],
                       summary: Summary(samples[i].map(\.nsPerFrame)), ratioToCache2021: nil, plainOverCache: nil,
                       refillsPerKiloframe: Double(samples[i].reduce(0) { $0 + $1.refills }) / kiloframes,
                       flushesPerKiloframe: Double(samples[i].reduce(0) { $0 + $1.flushes }) / kiloframes,
                       handedOff: v, cpuSummary: Summary(samples[i].map { $0.cpuNsPerFrame ?? 0 }))
        }
    }

    /// The workers in their boxes, prepared, warmed (one round per variant) and run through the
    /// alternated rounds; the samples per variant.
    private func threadedRounds(_ scenario: NatScenario, _ pool: HeadPool, label: String) -> [[RoundResult]] {
        let group = NatWorkerGroup(workers: 2)
        let a = PairWorkerBox(makePairWorker(0, pool, group, scenario, label))
        let b = PairWorkerBox(makePairWorker(1, pool, group, scenario, label))
        let offered = prepareHandOff(&a.worker, &b.worker, group, scenario, label: label)
        let budget = max(2, options.frames / 4 * 2)
        for v in HandedOff.allCases {
            _ = threadedRound(a, b, v, offered[v.rawValue]!, budget: budget, label: "\(label), \(v) handed off")
        }
        var samples: [[RoundResult]] = HandedOff.allCases.map { _ in [] }
        for _ in 0..<options.rounds {
            for (i, v) in HandedOff.allCases.enumerated() {
                samples[i].append(threadedRound(a, b, v, offered[v.rawValue]!, budget: budget,
                                                label: "\(label), \(v) handed off"))
            }
        }
        finishPair(&a.worker, &b.worker, group, pool, label: label)
        return samples
    }

    /// One round on two threads: `budget` outbound frames on worker 0's IN and as many inbound on
    /// worker 1's OUT; the checks of `nat2`'s round after both threads have been joined.
    func threadedRound(_ a: PairWorkerBox, _ b: PairWorkerBox, _ variant: HandedOff, _ frames: HandOffFrames,
                       budget: Int, label: String) -> RoundResult {
        a.worker.inPort.setFrames(frames.outbound)
        b.worker.outPort.setFrames(frames.inbound)
        a.worker.inPort.remaining = 0
        b.worker.outPort.remaining = 0
        let before = a.worker.processor.counters + b.worker.processor.counters
        let allocatorBefore = (a.worker.allocator.counters, b.worker.allocator.counters)
        let sentBefore = sentCounts(a.worker, b.worker)
        let shared = ThreadedRound()
        let cpus = Self.threadedCPUs
        let threads = [
            JoinableThread(name: "bench w0", cpu: cpus?.0) {
                self.threadLoop(&a.worker, index: 0, budget: budget, shared: shared)
            },
            JoinableThread(name: "bench w1", cpu: cpus?.1) {
                self.threadLoop(&b.worker, index: 1, budget: budget, shared: shared)
            },
        ]
        while shared.ready.load(ordering: .acquiring) < 2 { usleep(50) }
        let start = monotonicNanoseconds()
        shared.go.store(true, ordering: .releasing)
        for t in threads { t.join() }
        let slots = shared.slots
        let elapsed = max(slots[0].end.load(ordering: .acquiring), slots[1].end.load(ordering: .acquiring)) &- start
        checkHandOffRound(a.worker, b.worker, variant, budget: budget, sentBefore: sentBefore, before: before,
                          label: label)
        let refills = a.worker.allocator.counters.refills + b.worker.allocator.counters.refills
            - allocatorBefore.0.refills - allocatorBefore.1.refills
        let flushes = a.worker.allocator.counters.flushes + b.worker.allocator.counters.flushes
            - allocatorBefore.0.flushes - allocatorBefore.1.flushes
        return RoundResult(nsPerFrame: Double(elapsed) / Double(2 * budget), frames: 2 * budget,
                           refills: refills, flushes: flushes,
                           cpuNsPerFrame: Double(slots[0].cpu.load(ordering: .acquiring) + slots[1].cpu.load(ordering: .acquiring)) / Double(2 * budget))
    }

    /// One thread's timed loop. Worker 0 receives on IN and sends its own frames out of OUT (the
    /// other's out of IN); worker 1 receives on OUT and sends its own out of IN. Steps until this
    /// worker's ports have sent `budget` frames (every frame it owns) and the other thread is done
    /// too, or 30 s have passed (the round's check then says what was lost).
    @inline(never)
    func threadLoop(_ w: inout PairWorker, index: Int, budget: Int, shared: ThreadedRound) {
        let mine = shared.slots[index], theirs = shared.slots[1 - index]
        let ownBase = index == 0 ? w.outPort.sentCount : w.inPort.sentCount
        let otherBase = index == 0 ? w.inPort.sentCount : w.outPort.sentCount
        var given = 0, finished = false
        shared.ready.add(1, ordering: .releasing)
        while !shared.go.load(ordering: .acquiring) {}
        let cpuStart = threadCPUNanoseconds()
        let deadline = monotonicNanoseconds() &+ 30_000_000_000
        var now = monotonicNanoseconds()
        do {
            while true {
                let remaining = index == 0 ? w.inPort.remaining : w.outPort.remaining
                if remaining == 0 && given < budget {
                    let own = (index == 0 ? w.outPort.sentCount : w.inPort.sentCount) - ownBase
                    let inFlight = given - own - theirs.fromOther.load(ordering: .relaxed)
                    if inFlight + Self.threadedChunk <= Self.threadedInFlight {
                        let grant = min(Self.threadedChunk, budget - given)
                        if index == 0 { w.inPort.remaining = grant } else { w.outPort.remaining = grant }
                        given += grant
                    }
                }
                _ = try w.step(now: now)
                let own = (index == 0 ? w.outPort.sentCount : w.inPort.sentCount) - ownBase
                let other = (index == 0 ? w.inPort.sentCount : w.outPort.sentCount) - otherBase
                mine.fromOther.store(other, ordering: .relaxed)
                if !finished && own + other == budget {
                    finished = true
                    shared.done.add(1, ordering: .relaxed)
                }
                now = monotonicNanoseconds()
                if finished && shared.done.load(ordering: .relaxed) == 2 { break }
                if now > deadline { break }
            }
        } catch {
            benchFailure("worker \(index): \(error.message)")
        }
        mine.end.store(monotonicNanoseconds(), ordering: .releasing)
        mine.cpu.store(threadCPUNanoseconds() - cpuStart, ordering: .releasing)
    }
}

/// CPU time of the calling thread.
func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
