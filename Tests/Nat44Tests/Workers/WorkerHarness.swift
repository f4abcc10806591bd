import BufferCache
import PacketFixtures
import PacketFormats
@testable import Pipeline
import XCTest
@testable import Nat44

/// N real `Worker`s running NAT processors over in-memory ports, joined by their group's mesh,
/// all stepped on this one thread: each frame is delivered to a worker chosen by the test (at
/// random: as if the kernel's fanout knew nothing), and the workers are stepped until no lane
/// holds a frame, so hand-offs, staging, drops and output are the pipeline's own. What each
/// port sent is collected, and every drop's reason (through a drop sink).
struct WorkerHarness: ~Copyable {
    typealias NatWorker = Worker<HeadCache, NatProcessor, MemoryPort>

    struct Sent {
        let worker: Int
        let side: Side
        let bytes: [UInt8]
    }

    /// The drops' reasons as the gateway names them (`no_session`), or the pipeline's (`hand_off`).
    final class DropLog: DropSink, @unchecked Sendable {
        var reasons: [String] = []

        func dropped(_ frame: UnsafeRawBufferPointer, wireLength: Int, reason: String, direction: Side, interface: Side) {
            reasons.append(reason.hasPrefix("nat:") ? String(reason.dropFirst(4)) : reason)
        }
    }

    // The pointer first: Swift 6.3.1 under -sanitize=thread miscompiles a mutation through a
    // `let` field of a ~Copyable struct whose first word is not a pointer (docs/status.md).
    let workers: UnsafeMutablePointer<NatWorker>
    let count: Int
    let group: NatWorkerGroup
    let pool: HeadPool
    let log = DropLog()
    var sent: [Sent] = []
    /// Per worker and side (`2 * worker + side.rawValue`): frames of its port's `sent` collected.
    var collected: [Int]
    var now: UInt64 = 1_000_000_000
    var rng = TestRNG(seed: 0x5EED)

    init(workers: Int, config: NatConfig? = nil) throws {
        let config = try config ?? NatFixtures.config()
        count = workers
        group = NatWorkerGroup(workers: workers)
        pool = HeadPool(HeadPool.Configuration(headsPerSlab: 256))
        var cacheConfig = HeadCache.Configuration.kernel2021
        // A head freed by another worker stays there: no head waits in a return-home list when
        // `finish` counts them.
        cacheConfig.remoteFrees = .adopt
        var settings = WorkerSettings()
        settings.mtu = (config.insideMTU, config.outsideMTU)
        settings.dropSink = log
        self.workers = .allocate(capacity: workers)
        for i in 0..<workers {
            // A fresh pool has a cache slot for every worker.
            (self.workers + i).initialize(to: Worker(
                allocator: HeadCache(pool: pool, configuration: cacheConfig)!, processor: group.processor(config: config, worker: i),
                inPort: MemoryPort(), outPort: MemoryPort(), inputs: [.inside, .outside], settings: settings,
                slot: StatsSlot<NatCounters>(), handOff: group.endpoint(i)))
        }
        collected = [Int](repeating: 0, count: 2 * workers)
    }

    deinit {
        workers.deinitialize(count: count)
        workers.deallocate()
    }

    var randomWorker: Int { mutating get { Int(rng.next() % UInt64(count)) } }

    /// The reasons of every drop so far.
    var drops: [String] { log.reasons }

    /// Frames the workers took off their lanes.
    var handOffs: Int { (0..<count).reduce(0) { $0 + Int(workers[$1].handOffs.received) } }

    /// Delivers `bytes` received on `side` to worker `w` (random when nil); returns what was
    /// sent as a result, worker by worker.
    @discardableResult
    mutating func deliver(_ bytes: [UInt8], on side: Side, to w: Int? = nil) -> [Sent] {
        let worker = w ?? randomWorker
        if side == .inside {
            workers[worker].inPort.setFrames([bytes])
            workers[worker].inPort.remaining = 1
        } else {
            workers[worker].outPort.setFrames([bytes])
            workers[worker].outPort.remaining = 1
        }
        settle()
        return collect()
    }

    /// Moves the clock by `ms`, steps every worker (its processor's timers run) and returns what
    /// was sent as a result.
    @discardableResult
    mutating func tick(advancing ms: UInt64 = 1) -> [Sent] {
        now += ms * 1_000_000
        settle()
        return collect()
    }

    /// Steps every worker in turn until no lane holds a frame (bounded: a hand-off that never
    /// ends is a bug).
    mutating func settle() {
        let ws = workers, t = now
        for _ in 0..<100 {
            do {
                for w in 0..<count { _ = try ws[w].step(now: t) }
            } catch {
                return XCTFail("a memory port failed: \(error)")
            }
            if group.mesh?.queued ?? 0 == 0 { return }
        }
        XCTFail("frames still on the lanes after 100 passes")
    }

    /// What the ports sent since the last collection, worker by worker, IN before OUT.
    private mutating func collect() -> [Sent] {
        var new: [Sent] = []
        for w in 0..<count {
            for side in [Side.inside, .outside] {
                let all = side == .inside ? workers[w].inPort.sent : workers[w].outPort.sent
                let i = 2 * w + side.rawValue
                new += all[collected[i]...].map { Sent(worker: w, side: side, bytes: $0) }
                collected[i] = all.count
            }
        }
        sent += new
        return new
    }

    /// Teaches the gateway the router and `hosts` by ARP requests to its addresses, each landing
    /// on a random worker.
    mutating func prime(hosts: [UInt32]) {
        deliver(TestFrames.arpRequest(from: TestFrames.router, mac: TestFrames.routerMAC, to: TestFrames.outsideAddress,
                                      vlan: TestFrames.outsideVLAN), on: .outside)
        for h in hosts {
            deliver(TestFrames.arpRequest(from: h, mac: TestFrames.hostMAC(h), to: TestFrames.insideAddress,
                                          vlan: TestFrames.insideVLAN), on: .inside)
        }
    }

    /// Returns every head the workers hold (`releaseHeads`: `finish` would wait for the other
    /// workers' threads); no frame may have been refused a hand-off (handed on, or to its own
    /// worker), and every head must be back in the pool or a cache.
    mutating func finish() {
        settle()
        var cached = 0
        for w in 0..<count {
            workers[w].releaseHeads()
            XCTAssertEqual(workers[w].handOffs.dropped, 0, "worker \(w) refused hand-offs")
            cached += workers[w].allocator.cachedCount
        }
        XCTAssertEqual(group.mesh?.queued ?? 0, 0, "no head is left on a lane")
        XCTAssertEqual(pool.stats.outstanding, cached, "heads leaked")
    }

    var totals: NatCounters { (0..<count).reduce(NatCounters()) { $0 + workers[$1].processor.counters } }
}
