import BufferCache
import CMallocCounter
import PacketFixtures
import Pipeline
import XCTest
@testable import Nat44

/// The multi-worker per-frame path allocates nothing: steering, the hand-off verdict, and the
/// owner's translation of a handed-off frame (counted per thread by CMallocCounter).
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
        let head = try XCTUnwrap(h.allocator.get())
        func load(_ bytes: [UInt8]) {
            head.reset(headroom: 64, owner: 0)
            head.length = bytes.count
            bytes.withUnsafeBytes { head.data.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        }
        var forwarded = 0, allocations: UInt64 = 0
        let ps = h.processors, t = h.now
        for _ in 0..<2000 {
            let before = cmc_thread_allocations()
            load(out)
            if ps[1].process(head, from: .inside, now: t, allocator: &h.allocator) == .handOff(worker: 0),
               ps[0].processHandedOff(HandOff(head: head, side: .inside), now: t,
                                                allocator: &h.allocator) == .forward(.outside) {
                forwarded += 1
            }
            load(back)
            if ps[1].process(head, from: .outside, now: t, allocator: &h.allocator) == .handOff(worker: 0),
               ps[0].processHandedOff(HandOff(head: head, side: .outside), now: t,
                                                allocator: &h.allocator) == .forward(.inside) {
                forwarded += 1
            }
            allocations += cmc_thread_allocations() - before
        }
        XCTAssertEqual(allocations, 0, "allocations on the multi-worker path")
        XCTAssertEqual(forwarded, 4000)
        h.allocator.put(head)
        h.finish()
    }
}
