import BufferCache
import CMallocCounter
import PacketFixtures
@testable import Pipeline
import XCTest
@testable import Nat44

/// The multi-worker per-frame path allocates nothing: RX, steering, the staged hand-off and its
/// push, the owner's translation of the handed-off frame and TX, through real workers (counted
/// per thread by CMallocCounter).
final class MultiWorkerAllocationTests: XCTestCase {
    func testNoAllocationOnTheMultiWorkerPath() throws {
        typealias F = TestFrames
        var h = try WorkerHarness(workers: 2)
        let host = F.ip("192.168.10.12"), remote = F.ip("198.51.100.7")
        h.prime(hosts: [host])
        // Port 5000 is in worker 0's share ((5000 >> 6) % 2 == 0): it lands on worker 1.
        let out = F.fromInside(F.ipv4(src: host, dst: remote, proto: 17, F.udp(src: host, dst: remote, sport: 5000, dport: 53)))
        let back = F.fromOutside(F.ipv4(src: remote, dst: F.outsideAddress, proto: 17,
                                        F.udp(src: remote, dst: F.outsideAddress, sport: 53, dport: 5000)))
        XCTAssertEqual(h.deliver(out, on: .inside, to: 1).count, 1)
        let ws = h.workers
        for w in 0..<2 {
            ws[w].inPort.keepSent = false
            ws[w].outPort.keepSent = false
        }
        ws[1].inPort.setFrames([out])
        ws[1].outPort.setFrames([back])
        let sentBefore = (ws[0].outPort.sentCount, ws[0].inPort.sentCount)
        // A round to warm up (the caches fill from the pool), then the counted one.
        var allocations: UInt64 = 0
        for round in 0..<2 {
            ws[1].inPort.remaining = 1000
            ws[1].outPort.remaining = 1000
            let before = cmc_thread_allocations()
            h.settle()
            while ws[1].inPort.remaining > 0 || ws[1].outPort.remaining > 0 { h.settle() }
            h.settle()
            if round == 1 { allocations = cmc_thread_allocations() - before }
        }
        XCTAssertEqual(allocations, 0, "allocations on the multi-worker path")
        XCTAssertEqual(ws[0].outPort.sentCount - sentBefore.0, 2000, "outbound, translated by worker 0")
        XCTAssertEqual(ws[0].inPort.sentCount - sentBefore.1, 2000, "inbound, translated by worker 0")
        XCTAssertGreaterThanOrEqual(ws[1].handOffs.sent, 4000)
        h.finish()
    }
}
