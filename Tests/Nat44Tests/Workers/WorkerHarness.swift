import BufferCache
import PacketFixtures
import PacketFormats
import Pipeline
import XCTest
@testable import Nat44

/// N NAT processors as N workers would run them, in one thread: each frame is delivered to a
/// worker chosen by the test (at random: as if the kernel's fanout knew nothing), and the
/// harness carries out what the Worker would: `.handOff` verdicts and `popHandOff` requests go
/// to the named worker's `processHandedOff` (and a hand-off that asks to be handed on fails the
/// test); forwarded frames and generated output are collected.
struct WorkerHarness: ~Copyable {
    struct Sent {
        let worker: Int
        let side: Side
        let bytes: [UInt8]
    }

    // The pointer first: Swift 6.3.1 under -sanitize=thread miscompiles a mutation through a
    // `let` field of a ~Copyable struct whose first word is not a pointer (docs/status.md).
    let processors: UnsafeMutablePointer<NatProcessor>
    let count: Int
    var allocator = PlainAllocator()
    var sent: [Sent] = []
    var drops: [String] = []
    /// Frames that went from one worker to another (verdicts and requests).
    var handOffs = 0
    var now: UInt64 = 1_000_000_000
    var rng = TestRNG(seed: 0x5EED)

    init(workers: Int, config: NatConfig? = nil) throws {
        let config = try config ?? NatFixtures.config()
        count = workers
        let directory = NatFragmentDirectory()
        processors = .allocate(capacity: workers)
        for i in 0..<workers {
            (processors + i).initialize(to: NatProcessor(config: config, share: NatWorkerShare(index: i, count: workers),
                                                         fragments: directory))
        }
    }

    deinit {
        processors.deinitialize(count: count)
        processors.deallocate()
    }

    var randomWorker: Int { mutating get { Int(rng.next() % UInt64(count)) } }

    /// Delivers `bytes` received on `side` to worker `w` (random when nil); returns what was
    /// sent as a result, in order.
    @discardableResult
    mutating func deliver(_ bytes: [UInt8], on side: Side, to w: Int? = nil) -> [Sent] {
        let first = sent.count
        let worker = w ?? randomWorker
        let head = makeHead(bytes, &allocator)
        let ps = processors, t = now
        let v = ps[worker].process(head, from: side, now: t, allocator: &allocator)
        carryOut(v, head, side, worker, handedOver: false)
        drain()
        return Array(sent[first...])
    }

    /// Ticks every worker (after moving the clock by `ms`) and carries out what they produced.
    @discardableResult
    mutating func tick(advancing ms: UInt64 = 1) -> [Sent] {
        let first = sent.count
        now += ms * 1_000_000
        let ps = processors, t = now
        for w in 0..<count { ps[w].tick(now: t, allocator: &allocator) }
        drain()
        return Array(sent[first...])
    }

    private mutating func carryOut(_ v: Verdict, _ head: PacketHead, _ side: Side, _ w: Int, handedOver: Bool) {
        switch v {
        case .forward(let out):
            sent.append(Sent(worker: w, side: out, bytes: head.frameBytes))
            allocator.put(head)
        case .drop:
            drops.append(processors[w].lastDropReason ?? "?")
            allocator.put(head)
        case .consumed:
            break
        case .handOff(let to):
            XCTAssertFalse(handedOver, "a handed-off frame was handed on")
            XCTAssertNotEqual(to, w, "handed to itself")
            receive(HandOff(head: head, side: side), at: to)
        }
    }

    private mutating func receive(_ h: HandOff, at w: Int) {
        handOffs += 1
        let ps = processors, t = now
        let v = ps[w].processHandedOff(h, now: t, allocator: &allocator)
        carryOut(v, h.head, h.side, w, handedOver: true)
    }

    /// Output and hand-off requests of every worker, until none has any.
    private mutating func drain() {
        var busy = true
        while busy {
            busy = false
            for w in 0..<count {
                while let (side, h) = processors[w].popOutput() {
                    busy = true
                    sent.append(Sent(worker: w, side: side, bytes: h.frameBytes))
                    allocator.put(h)
                }
                while let r = processors[w].popHandOff() {
                    busy = true
                    XCTAssertNotEqual(r.worker, w)
                    receive(r.handOff, at: r.worker)
                }
            }
        }
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

    /// Puts every head back; the allocator must have seen as many puts as gets.
    mutating func finish() {
        let ps = processors
        for w in 0..<count { ps[w].releaseAll(allocator: &allocator) }
        XCTAssertEqual(allocator.counters.gets, allocator.counters.puts, "heads leaked or double-freed")
    }

    var totals: NatCounters { (0..<count).reduce(NatCounters()) { $0 + processors[$1].counters } }
}
