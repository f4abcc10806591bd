import XCTest
import Foundation
import Glibc
@testable import BufferCache

/// Real threads: heads got on one thread are freed on another, both ways, many rounds. At the end
/// every head the pool made is back in it exactly once, and no head was ever handed out while
/// still in flight (each carries a serial number its consumer checks).
final class CrossThreadStressTests: XCTestCase {
    /// A value behind a pthread mutex. Not Synchronization's `Mutex`: ThreadSanitizer (this test
    /// runs under it, scripts/sanitize.sh) does not see the uninstrumented standard library's lock
    /// and would report every hand-over through it as a race.
    final class Locked<Value>: @unchecked Sendable {
        private var value: Value
        private let lock: UnsafeMutablePointer<pthread_mutex_t>
        init(_ value: Value) {
            self.value = value
            lock = .allocate(capacity: 1)
            lock.initialize(to: pthread_mutex_t())
            pthread_mutex_init(lock, nil)
        }
        deinit { pthread_mutex_destroy(lock); lock.deallocate() }
        func withLock<R>(_ body: (inout Value) -> R) -> R {
            pthread_mutex_lock(lock)
            defer { pthread_mutex_unlock(lock) }
            return body(&value)
        }
    }

    final class Channel: Sendable {
        let queue = Locked<[PacketHead]>([])
        func send(_ heads: [PacketHead]) { queue.withLock { $0.append(contentsOf: heads) } }
        func receive() -> [PacketHead] { queue.withLock { q in defer { q.removeAll(keepingCapacity: true) }; return q } }
    }

    func stress(policy: HeadCache.RemoteFreePolicy, rounds: Int) {
        let pool = HeadPool(.init(headsPerSlab: 64, maxHeads: 4096))
        let config = HeadCache.Configuration(capacity: 64, refill: 16, flush: 32, remoteFrees: policy)
        let aToB = Channel(), bToA = Channel()
        let failures = Locked<[String]>([])
        let done = DispatchGroup()

        // Each worker: sends bursts stamped with serial numbers to its peer, frees what the peer
        // sends it, and checks the peer's serials arrive intact and in order.
        @Sendable func worker(_ name: String, out: Channel, inbox: Channel) {
            var cache = HeadCache(pool: pool, configuration: config)!
            var serial: UInt64 = 0
            var expected: UInt64 = 0
            let burst = UnsafeMutablePointer<PacketHead>.allocate(capacity: 32)
            defer { burst.deallocate() }
            func drain() {
                let got = inbox.receive()
                for h in got {
                    let seen = h.data.loadUnaligned(as: UInt64.self)
                    if seen != expected {
                        failures.withLock { $0.append("\(name): expected serial \(expected), found \(seen)") }
                    }
                    expected = seen &+ 1
                }
                got.withUnsafeBufferPointer { cache.putBulk($0.baseAddress!, count: $0.count) }
            }
            for round in 0..<rounds {
                let n = cache.getBulk(into: burst, count: 1 + round % 32)
                var sent: [PacketHead] = []
                for i in 0..<n {
                    burst[i].length = 8
                    burst[i].data.storeBytes(of: serial, as: UInt64.self)
                    serial += 1
                    sent.append(burst[i])
                }
                out.send(sent)
                drain()
            }
            // The peer may still be sending: drain until both sides are done.
            out.send([])
            let deadline = DispatchTime.now() + 10
            while DispatchTime.now() < deadline {
                drain()
                if expected == serial { break }
                usleep(100)
            }
            drain()
        }
        for (name, out, inbox) in [("A", aToB, bToA), ("B", bToA, aToB)] {
            done.enter()
            Thread {
                worker(name, out: out, inbox: inbox)
                done.leave()
            }.start()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        // Whatever is still queued goes back through a fresh cache.
        var last = HeadCache(pool: pool, configuration: config)!
        for h in aToB.receive() + bToA.receive() { last.put(h) }
        _ = consume last
        XCTAssertEqual(failures.withLock { $0 }, [])
        let stats = pool.stats
        XCTAssertEqual(stats.outstanding, 0, "every head back in the pool")
        // And each exactly once: take them all and compare addresses.
        let all = UnsafeMutablePointer<PacketHead>.allocate(capacity: stats.totalHeads)
        defer { all.deallocate() }
        XCTAssertEqual(pool.allocate(into: all, count: stats.totalHeads), stats.totalHeads)
        XCTAssertEqual(Set(UnsafeBufferPointer(start: all, count: stats.totalHeads)).count, stats.totalHeads)
        pool.release(all, count: stats.totalHeads)
    }

    func testReturnHomeAcrossThreads() { stress(policy: .returnHome, rounds: 20_000) }
    func testAdoptAcrossThreads() { stress(policy: .adopt, rounds: 20_000) }
}
