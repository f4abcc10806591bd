import BufferCache
import Nat44
import Pipeline

/// `forwarder-bench pipeline --mode nat2`: the NAT gateway as two workers with the hand-off mesh
/// between them (`NatWorkerGroup`), both stepped on this one thread as the fuzzer's `nat2` rig
/// does, so what is measured is the work per frame (RX, steering, the lane push and pop,
/// translation, TX), not how two threads share a loaded machine. Worker 0 receives the outbound
/// frames on IN, worker 1 the inbound ones on OUT, one burst each per step, so each takes off its
/// lane about what the other puts on. Two variants alternate round by round (after an untimed
/// warm-up round each): every frame lands on the worker that does not own its session (`all`
/// handed off), or every other one does (`half`). The allocator is the cache (kernel-2021, the
/// forwarder's default remote-free policy), one per worker on one pool.
extension PipelineBenchmark {
    typealias PairWorker = Worker<HeadCache, NatProcessor, MemoryPort>

    static let handOffFlows = 10_000

    enum HandedOff: String, CaseIterable {
        case all, half
    }

    /// What one variant offers: the outbound frames worker 0 receives, the inbound frames worker 1
    /// receives, each list cycled through (an even-length window of `half` has exactly half of
    /// its frames owned by the other worker).
    struct HandOffFrames {
        let outbound: [[UInt8]]
        let inbound: [[UInt8]]
    }

    func runHandOffCase(frameBytes: Int) -> [Row] {
        let scenario = NatScenario(frameBytes: frameBytes, flows: Self.handOffFlows)
        let label = "nat2 \(scenario.flows) flows \(frameBytes) B"
        let pool = HeadPool()
        let group = NatWorkerGroup(workers: 2)
        var a = makePairWorker(0, pool, group, scenario, label)
        var b = makePairWorker(1, pool, group, scenario, label)
        let offered = prepareHandOff(&a, &b, group, scenario, label: label)
        // Per port, even (so `half` hands off exactly half).
        let budget = max(2, options.frames / 4 * 2)
        for v in HandedOff.allCases {
            _ = handOffRound(&a, &b, v, offered[v.rawValue]!, budget: budget, label: "\(label), \(v) handed off")
        }
        var samples: [[RoundResult]] = HandedOff.allCases.map { _ in [] }
        for _ in 0..<options.rounds {
            for (i, v) in HandedOff.allCases.enumerated() {
                samples[i].append(handOffRound(&a, &b, v, offered[v.rawValue]!, budget: budget,
                                               label: "\(label), \(v) handed off"))
            }
        }
        finishPair(&a, &b, group, pool, label: label)
        _ = consume a
        _ = consume b
        if pool.stats.outstanding != 0 {
            benchFailure("\(label): \(pool.stats.outstanding) heads never came back to the pool")
        }
        let variant = Self.variants[0]
        return HandedOff.allCases.enumerated().map { i, v in
            let kiloframes = Double(samples[i].reduce(0) { $0 + $1.frames }) / 1000
            return Row(mode: .nat2, flows: scenario.flows, frameBytes: frameBytes, variant: variant,
                       summary: Summary(samples[i].map(\.nsPerFrame)), ratioToCache2021: nil, plainOverCache: nil,
                       refillsPerKiloframe: Double(samples[i].reduce(0) { $0 + $1.refills }) / kiloframes,
                       flushesPerKiloframe: Double(samples[i].reduce(0) { $0 + $1.flushes }) / kiloframes,
                       handedOff: v)
        }
    }

    func makePairWorker(_ index: Int, _ pool: HeadPool, _ group: NatWorkerGroup, _ scenario: NatScenario,
                        _ label: String) -> PairWorker {
        guard let cache = HeadCache(pool: pool, configuration: .kernel2021) else {
            benchFailure("\(label): no cache could be registered on a fresh pool")
        }
        var settings = WorkerSettings()
        settings.burst = options.burst
        return Worker(allocator: cache, processor: group.processor(config: scenario.config, worker: index),
                      inPort: MemoryPort(), outPort: MemoryPort(), inputs: [.inside, .outside],
                      settings: settings, slot: StatsSlot<NatCounters>(), handOff: group.endpoint(index))
    }

    /// Untimed, as the one-worker NAT case: every neighbour learned (the ARP requests land on
    /// worker 0, which copies them to worker 1), every flow's session created by an outbound
    /// frame and answered by an inbound one, each frame checked. Returns each variant's frames.
    func prepareHandOff(_ a: inout PairWorker, _ b: inout PairWorker, _ group: NatWorkerGroup, _ s: NatScenario,
                        label: String) -> [String: HandOffFrames] {
        let arps = s.arpRequests()
        a.inPort = MemoryPort(frames: arps.inside, budget: s.hosts)
        a.outPort = MemoryPort(frames: arps.outside, budget: 1)
        drainPair(&a, &b, group, label: label)
        let c1 = a.processor.counters + b.processor.counters
        guard c1.arpRequestsAnswered == UInt64(s.hosts + 1), a.inPort.sentCount + a.outPort.sentCount == s.hosts + 1,
              c1.drops.total == 0 else {
            benchFailure("\(label): preparation: \(c1.arpRequestsAnswered) of \(s.hosts + 1) ARP requests answered, "
                + "\(c1.drops.total) drops")
        }

        a.inPort = MemoryPort(frames: s.outbound, budget: s.flows)
        a.outPort = MemoryPort()
        drainPair(&a, &b, group, label: label)
        let c2 = a.processor.counters + b.processor.counters
        guard c2.udp.created == UInt64(s.flows), c2.translatedOutbound == UInt64(s.flows), c2.drops.total == 0,
              c2.arpHeld == 0, a.outPort.sent.count + b.outPort.sent.count == s.flows else {
            benchFailure("\(label): preparation: \(s.flows) outbound frames gave \(c2.udp.created) sessions, "
                + "\(c2.translatedOutbound) translated, \(a.outPort.sent.count + b.outPort.sent.count) out, "
                + "\(c2.drops.total) drops, \(c2.arpHeld) held for ARP")
        }
        let external = s.checkOutbound(a.outPort.sent + b.outPort.sent, label: label)

        let inbound = s.inboundFrames(external: external)
        a.inPort = MemoryPort()
        b.outPort = MemoryPort(frames: inbound, budget: s.flows)
        drainPair(&a, &b, group, label: label)
        let c3 = a.processor.counters + b.processor.counters
        guard c3.translatedInbound == UInt64(s.flows), c3.udp.created == c2.udp.created, c3.drops.total == 0,
              c3.arpHeld == 0, c3.udp.active == UInt64(s.flows),
              a.inPort.sent.count + b.inPort.sent.count == s.flows else {
            benchFailure("\(label): preparation: \(s.flows) inbound frames gave \(c3.translatedInbound) translated, "
                + "\(a.inPort.sent.count + b.inPort.sent.count) out, \(c3.drops.total) drops, \(c3.udp.active) active")
        }
        s.checkInbound(a.inPort.sent + b.inPort.sent, label: label)
        for p in [a.inPort.sent, a.outPort.sent, b.inPort.sent, b.outPort.sent].joined() where p.isEmpty {
            benchFailure("\(label): preparation: an empty frame came out")
        }

        // The owner of each flow: of its inside source port outbound, of its external port inbound.
        let share = NatWorkerShare(index: 0, count: 2)
        let outOwner = (0..<s.flows).map { share.owner(of: NatScenario.hostPort($0, hosts: s.hosts)) }
        let inOwner = external.map { share.owner(of: $0) }
        func flows(_ owners: [Int], _ w: Int) -> [Int] { owners.indices.filter { owners[$0] == w } }
        /// `x` and `y` alternating, as many pairs as both have.
        func interleave(_ x: [Int], _ y: [Int]) -> [Int] { zip(x, y).flatMap { [$0, $1] } }
        let all = HandOffFrames(outbound: evenPrefix(flows(outOwner, 1)).map { s.outbound[$0] },
                                inbound: evenPrefix(flows(inOwner, 0)).map { inbound[$0] })
        let half = HandOffFrames(outbound: interleave(flows(outOwner, 0), flows(outOwner, 1)).map { s.outbound[$0] },
                                 inbound: interleave(flows(inOwner, 1), flows(inOwner, 0)).map { inbound[$0] })
        for f in [all, half] where f.outbound.isEmpty || f.inbound.isEmpty {
            benchFailure("\(label): preparation: one worker owns every flow")
        }
        a.inPort = MemoryPort()
        a.outPort = MemoryPort()
        b.inPort = MemoryPort()
        b.outPort = MemoryPort()
        for w in [0, 1] {
            withPorts(&a, &b, w) { (i: inout MemoryPort, o: inout MemoryPort) in
                i.keepSent = false
                o.keepSent = false
            }
        }
        return [HandedOff.all.rawValue: all, HandedOff.half.rawValue: half]
    }

    private func evenPrefix(_ x: [Int]) -> [Int] { Array(x.prefix(x.count & ~1)) }

    /// Applies `body` to worker `w`'s IN and OUT ports.
    private func withPorts(_ a: inout PairWorker, _ b: inout PairWorker, _ w: Int,
                           _ body: (inout MemoryPort, inout MemoryPort) -> Void) {
        if w == 0 { body(&a.inPort, &a.outPort) } else { body(&b.inPort, &b.outPort) }
    }

    /// One round of `variant`: `budget` outbound frames on worker 0's IN and as many inbound on
    /// worker 1's OUT; checks that each came out of the port of its owner, translated, and that
    /// the gateways created, held and dropped nothing.
    func handOffRound(_ a: inout PairWorker, _ b: inout PairWorker, _ variant: HandedOff, _ frames: HandOffFrames,
                      budget: Int, label: String) -> RoundResult {
        a.inPort.setFrames(frames.outbound)
        b.outPort.setFrames(frames.inbound)
        let before = a.processor.counters + b.processor.counters
        let refills = a.allocator.counters.refills + b.allocator.counters.refills
        let flushes = a.allocator.counters.flushes + b.allocator.counters.flushes
        let sentBefore = sentCounts(a, b)
        let elapsed: UInt64
        do {
            elapsed = try timedPairLoop(&a, &b, budget: budget)
        } catch {
            benchFailure("\(label): \(error.message)")
        }
        checkHandOffRound(a, b, variant, budget: budget, sentBefore: sentBefore, before: before, label: label)
        return RoundResult(nsPerFrame: Double(elapsed) / Double(2 * budget), frames: 2 * budget,
                           refills: a.allocator.counters.refills + b.allocator.counters.refills - refills,
                           flushes: a.allocator.counters.flushes + b.allocator.counters.flushes - flushes)
    }

    /// A round's checks (`nat2`, `nat2-threads`): each frame came out of the port of its owner,
    /// translated, and the gateways created, held and dropped nothing.
    func checkHandOffRound(_ a: borrowing PairWorker, _ b: borrowing PairWorker, _ variant: HandedOff, budget: Int,
                           sentBefore: [Int], before: NatCounters, label: String) {
        let sent = zip(sentCounts(a, b), sentBefore)
            .map { $0 - $1 }
        let handed = variant == .all ? budget : budget / 2
        // IN of 0: inbound owned by 0; OUT of 0: outbound owned by 0; IN of 1, OUT of 1 likewise.
        let expected = [handed, budget - handed, budget - handed, handed]
        guard sent == expected else {
            benchFailure("\(label): frames out of (IN 0, OUT 0, IN 1, OUT 1): \(sent), expected \(expected)")
        }
        let after = a.processor.counters + b.processor.counters
        if after.translatedOutbound - before.translatedOutbound != UInt64(budget)
            || after.translatedInbound - before.translatedInbound != UInt64(budget) {
            benchFailure("\(label): \(after.translatedOutbound - before.translatedOutbound) outbound and "
                + "\(after.translatedInbound - before.translatedInbound) inbound of \(budget) each translated")
        }
        if after.drops.total != before.drops.total || after.arpHeld != before.arpHeld
            || after.udp.created != before.udp.created || after.arpRequestsSent != before.arpRequestsSent {
            benchFailure("\(label): the gateways dropped, held, created or generated something during the round")
        }
    }

    /// Frames sent so far out of (IN 0, OUT 0, IN 1, OUT 1).
    func sentCounts(_ a: borrowing PairWorker, _ b: borrowing PairWorker) -> [Int] {
        [a.inPort.sentCount, a.outPort.sentCount, b.inPort.sentCount, b.outPort.sentCount]
    }

    /// The timed loop: each worker's step in turn, until every frame offered has been sent (or
    /// far more steps than that takes: the round's check then reports what was lost).
    @inline(never)
    func timedPairLoop(_ a: inout PairWorker, _ b: inout PairWorker, budget: Int) throws(PortError) -> UInt64 {
        a.inPort.remaining = budget
        b.outPort.remaining = budget
        let target = a.inPort.sentCount + a.outPort.sentCount + b.inPort.sentCount + b.outPort.sentCount + 2 * budget
        let stepLimit = 4 * (budget / max(1, options.burst) + 64)
        var steps = 0
        let start = monotonicNanoseconds()
        while a.inPort.sentCount + a.outPort.sentCount + b.inPort.sentCount + b.outPort.sentCount < target
                && steps < stepLimit {
            _ = try a.step(now: monotonicNanoseconds())
            _ = try b.step(now: monotonicNanoseconds())
            steps += 1
        }
        return monotonicNanoseconds() - start
    }

    /// Untimed: steps both until the ports have handed out their budgets and the lanes are empty.
    func drainPair(_ a: inout PairWorker, _ b: inout PairWorker, _ group: NatWorkerGroup, label: String) {
        do {
            var steps = 0
            repeat {
                _ = try a.step(now: monotonicNanoseconds())
                _ = try b.step(now: monotonicNanoseconds())
                steps += 1
                if steps > 1_000_000 { benchFailure("\(label): the workers stopped receiving") }
            } while a.inPort.remaining + a.outPort.remaining + b.inPort.remaining + b.outPort.remaining > 0
                || (group.mesh?.queued ?? 0) > 0 || steps < 3
            for _ in 0..<2 {
                _ = try a.step(now: monotonicNanoseconds())
                _ = try b.step(now: monotonicNanoseconds())
            }
        } catch {
            benchFailure("\(label): \(error.message)")
        }
    }

    /// Returns every head both workers hold (`releaseHeads`: `finish` would wait for the other
    /// worker's thread) and checks their counters: no drop of any reason, every frame received
    /// sent, every hand-off taken off its lane.
    func finishPair(_ a: inout PairWorker, _ b: inout PairWorker, _ group: NatWorkerGroup, _ pool: HeadPool,
                    label: String) {
        drainPair(&a, &b, group, label: label)
        a.releaseHeads()
        b.releaseHeads()
        guard let sa = a.slot.read(), let sb = b.slot.read() else { benchFailure("\(label): a worker published no counters") }
        let total = sa.directions.0 + sa.directions.1 + sb.directions.0 + sb.directions.1
        if total.dropsTotal != 0 {
            let reasons = DropReason.allCases.filter { total[$0] > 0 }.map { "\($0) \(total[$0])" }
            benchFailure("\(label): the workers dropped frames: \(reasons.joined(separator: ", "))")
        }
        let handOffs = sa.handOffs + sb.handOffs
        if handOffs.sent != handOffs.received || handOffs.dropped != 0 || (group.mesh?.queued ?? 0) != 0 {
            benchFailure("\(label): \(handOffs.sent) frames handed off, \(handOffs.received) taken off the lanes, "
                + "\(handOffs.dropped) dropped")
        }
    }
}
