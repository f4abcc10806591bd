import BufferCache
import Glibc
import Pipeline
import ProcessControl
import Synchronization
import XCTest
@testable import Nat44

/// Two real `Worker`s on threads, each with its own NAT processor, cache and in-memory ports over
/// one `HeadPool`, joined by a `HandOffMesh`: both receive every frame (as if the fanout knew
/// nothing), hand the other's frames over, and every head is back in the pool at the end.
final class NatWorkerThreadTests: XCTestCase {
    final class Shared: Sendable {
        let stop = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
    }

    func testTwoNatWorkersHandOffAndReturnEveryHead() throws {
        typealias F = TestFrames
        let config = try NatFixtures.config()
        let host = F.ip("192.168.10.12"), remote = F.ip("198.51.100.7")
        let inside = [F.arpRequest(from: host, mac: F.hostMAC(host), to: F.insideAddress, vlan: F.insideVLAN)]
            + (0..<16).map { i in
                F.fromInside(F.ipv4(src: host, dst: remote, proto: 17, F.udp(src: host, dst: remote, sport: UInt16(3000 + 64 * i), dport: 53)))
            }
        let outside = [F.arpRequest(from: F.router, mac: F.routerMAC, to: F.outsideAddress, vlan: F.outsideVLAN)]
        let budget = (inside: 17 * 40, outside: 20)
        let pool = HeadPool()
        let mesh = HandOffMesh(workers: 2)
        let directory = NatFragmentDirectory()
        let shared = Shared()
        let slots = [StatsSlot<NatCounters>(), StatsSlot<NatCounters>()]
        var wake: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&wake), 0)
        defer { close(wake[0]); close(wake[1]) }
        let wakeRead = wake[0]
        let threads = (0..<2).map { i in
            JoinableThread(name: "nat worker test") {
                var worker = Worker(allocator: HeadCache(pool: pool)!,
                                    processor: NatProcessor(config: config, share: NatWorkerShare(index: i, count: 2),
                                                            fragments: directory),
                                    inPort: MemoryPort(frames: inside, budget: budget.inside),
                                    outPort: MemoryPort(frames: outside, budget: budget.outside),
                                    inputs: [.inside, .outside], settings: WorkerSettings(), slot: slots[i],
                                    handOff: HandOffEndpoint(mesh: mesh, index: i))
                worker.inPort.keepSent = false
                worker.outPort.keepSent = false
                do { try worker.run(stop: shared.stop, wakeDescriptor: wakeRead) } catch {
                    shared.failures.add(1, ordering: .relaxed)
                }
            }
        }
        let deadline = monotonicNanoseconds() + 30_000_000_000
        let total = UInt64(budget.inside + budget.outside)
        while monotonicNanoseconds() < deadline {
            let received = slots.compactMap { $0.read() }.map { $0.directions.0.rxFrames + $0.directions.1.rxFrames }
            if received == [total, total] && mesh.queued == 0 { break }
            usleep(2_000)
        }
        usleep(100_000)
        shared.stop.store(true, ordering: .relaxed)
        var byte: UInt8 = 1
        XCTAssertEqual(write(wake[1], &byte, 1), 1)
        for t in threads { t.join() }
        XCTAssertEqual(shared.failures.load(ordering: .relaxed), 0)
        let stats = try slots.map { try XCTUnwrap($0.read()) }
        let nat = stats[0].processor + stats[1].processor
        let handOffs = stats[0].handOffs + stats[1].handOffs
        XCTAssertGreaterThan(handOffs.sent, 0)
        XCTAssertEqual(handOffs.sent, handOffs.received + handOffs.dropped)
        XCTAssertGreaterThan(nat.translatedOutbound, 0)
        XCTAssertGreaterThan(nat.arpCopiesSent, 0)
        XCTAssertEqual(nat.udp.created, 16, "each flow's session on its owner only")
        XCTAssertEqual(mesh.queued, 0)
        XCTAssertEqual(pool.stats.outstanding, 0, "every head is back in the pool")
    }
}
