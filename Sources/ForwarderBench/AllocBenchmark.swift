import BufferCache
import Pipeline
import Foundation
import Synchronization

/// `forwarder-bench alloc`: ns per get+put pair for the cache, the plain allocator and a naive
/// Swift class, measured side by side in one process, the variants alternating round by round.
struct AllocBenchmark {
    struct Options {
        var rounds = 7
        var pairs = 1 << 20
        var json = false
        var preset = HeadCache.Configuration.kernel2021
    }

    struct Case: Hashable {
        let scenario: String   // "burst" or "two-thread"
        let allocator: String  // "cache" (remote frees return home), "cache-adopt", "plain", "class"
        let burst: Int
        let threads: Int
    }

    let options: Options
    let pool = HeadPool()
    let bursts = [1, 16, 32, 64]

    var cases: [Case] {
        var all: [Case] = []
        for b in bursts {
            for a in ["cache", "plain", "class"] { all.append(Case(scenario: "burst", allocator: a, burst: b, threads: 1)) }
        }
        for a in ["cache", "cache-adopt", "plain", "class"] {
            all.append(Case(scenario: "two-thread", allocator: a, burst: 32, threads: 2))
        }
        return all
    }

    func run() {
        var samples: [Case: [Double]] = [:]
        // One untimed round warms the pool, glibc's arenas and the caches.
        for c in cases { _ = measure(c, pairs: options.pairs / 8) }
        for _ in 0..<options.rounds {
            for c in cases { samples[c, default: []].append(measure(c, pairs: options.pairs)) }
        }
        report(samples)
    }

    func measure(_ c: Case, pairs: Int) -> Double {
        var cacheConfig = options.preset
        switch (c.scenario, c.allocator) {
        case ("burst", "cache"):
            var cache = HeadCache(pool: pool, configuration: cacheConfig)!
            return burstLoop(&cache, burst: c.burst, pairs: pairs)
        case ("burst", "plain"):
            var plain = PlainAllocator()
            return burstLoop(&plain, burst: c.burst, pairs: pairs)
        case ("burst", "class"):
            return classBurstLoop(burst: c.burst, pairs: pairs)
        case ("two-thread", "cache"), ("two-thread", "cache-adopt"):
            cacheConfig.remoteFrees = c.allocator == "cache" ? .returnHome : .adopt
            let pool = self.pool, config = cacheConfig
            return twoThreads(pairs: pairs, burst: c.burst) { HeadCache(pool: pool, configuration: config)! }
        case ("two-thread", "plain"):
            return twoThreads(pairs: pairs, burst: c.burst) { PlainAllocator() }
        case ("two-thread", "class"):
            return classTwoThreads(pairs: pairs, burst: c.burst)
        default:
            fatalError("unknown case \(c)")
        }
    }

    // MARK: one thread

    /// Gets a burst, touches each head as RX would (length and first bytes), puts the burst back.
    func burstLoop<A: HeadAllocator & ~Copyable>(_ a: inout A, burst: Int, pairs: Int) -> Double {
        let heads = UnsafeMutablePointer<PacketHead>.allocate(capacity: burst)
        defer { heads.deallocate() }
        let iterations = max(1, pairs / burst)
        let start = monotonicNanoseconds()
        if burst == 1 {
            for i in 0..<iterations {
                guard let h = a.get() else { fatalError("allocation failed") }
                h.length = 60
                h.data.storeBytes(of: UInt32(truncatingIfNeeded: i), as: UInt32.self)
                a.put(h)
            }
        } else {
            for i in 0..<iterations {
                let n = a.getBulk(into: heads, count: burst)
                precondition(n == burst, "allocation failed")
                for j in 0..<n {
                    heads[j].length = 60
                    heads[j].data.storeBytes(of: UInt32(truncatingIfNeeded: i &+ j), as: UInt32.self)
                }
                a.putBulk(heads, count: n)
            }
        }
        return Double(monotonicNanoseconds() - start) / Double(iterations * burst)
    }

    func classBurstLoop(burst: Int, pairs: Int) -> Double {
        let size = HeadGeometry.default.bufferSize
        var packets: [ClassPacket] = []
        packets.reserveCapacity(burst)
        let iterations = max(1, pairs / burst)
        let start = monotonicNanoseconds()
        for i in 0..<iterations {
            for j in 0..<burst {
                let p = ClassPacket(bufferSize: size)
                p.length = 60
                p.bytes[p.dataOffset] = UInt8(truncatingIfNeeded: i &+ j)
                packets.append(p)
            }
            packets.removeAll(keepingCapacity: true)
        }
        return Double(monotonicNanoseconds() - start) / Double(iterations * burst)
    }

    // MARK: two threads

    /// One thread gets bursts and passes them through a ring; the other puts them back.
    func twoThreads<A: HeadAllocator & ~Copyable>(pairs: Int, burst: Int,
                                                  make: @escaping @Sendable () -> A) -> Double {
        twoThreadRun(pairs: pairs, burst: burst,
            produce: { ring, total in
                var a = make()
                let heads = UnsafeMutablePointer<PacketHead>.allocate(capacity: burst)
                let raw = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: burst)
                defer { heads.deallocate(); raw.deallocate() }
                var sent = 0
                while sent < total {
                    let n = a.getBulk(into: heads, count: min(burst, total - sent))
                    for j in 0..<n {
                        heads[j].length = 60
                        heads[j].data.storeBytes(of: UInt32(truncatingIfNeeded: sent &+ j), as: UInt32.self)
                        raw[j] = UnsafeMutableRawPointer(heads[j].meta)
                    }
                    var pushed = 0
                    while pushed < n { pushed += ring.push(raw + pushed, count: n - pushed) }
                    sent += n
                }
                // Keep the producer's cache alive until its heads have come home (return-home).
                return { _ = a.counters }
            },
            consume: { ring, total in
                var a = make()
                let heads = UnsafeMutablePointer<PacketHead>.allocate(capacity: burst)
                let raw = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: burst)
                defer { heads.deallocate(); raw.deallocate() }
                var received = 0
                while received < total {
                    let n = ring.pop(into: raw, count: burst)
                    for j in 0..<n { heads[j] = PacketHead(raw[j].assumingMemoryBound(to: HeadMeta.self)) }
                    a.putBulk(heads, count: n)
                    received += n
                }
            })
    }

    func classTwoThreads(pairs: Int, burst: Int) -> Double {
        let size = HeadGeometry.default.bufferSize
        return twoThreadRun(pairs: pairs, burst: burst,
            produce: { ring, total in
                let raw = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: burst)
                defer { raw.deallocate() }
                var sent = 0
                while sent < total {
                    let n = min(burst, total - sent)
                    for j in 0..<n {
                        let p = ClassPacket(bufferSize: size)
                        p.length = 60
                        p.bytes[p.dataOffset] = UInt8(truncatingIfNeeded: sent &+ j)
                        raw[j] = Unmanaged.passRetained(p).toOpaque()
                    }
                    var pushed = 0
                    while pushed < n { pushed += ring.push(raw + pushed, count: n - pushed) }
                    sent += n
                }
                return {}
            },
            consume: { ring, total in
                let raw = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: burst)
                defer { raw.deallocate() }
                var received = 0
                while received < total {
                    let n = ring.pop(into: raw, count: burst)
                    for j in 0..<n { Unmanaged<ClassPacket>.fromOpaque(raw[j]).release() }
                    received += n
                }
            })
    }

    /// Runs producer and consumer on two threads from a common start; ns per pair from the start
    /// to the moment the consumer has put the last head back.
    func twoThreadRun(pairs: Int, burst: Int,
                      produce: @escaping @Sendable (SPSCRing<UnsafeMutableRawPointer>, Int) -> (() -> Void),
                      consume: @escaping @Sendable (SPSCRing<UnsafeMutableRawPointer>, Int) -> Void) -> Double {
        let ring = SPSCRing<UnsafeMutableRawPointer>(capacity: 1024)
        defer { ring.deallocate() }
        let ready = Atomic<Int>(0)
        let consumerDone = DispatchSemaphore(value: 0)
        let producerMayExit = DispatchSemaphore(value: 0)
        let producerDone = DispatchSemaphore(value: 0)
        let elapsed = Mutex<UInt64>(0)
        withUnsafePointer(to: ready) { readyPointer in
            let ready = UnsafeSendable(readyPointer)
            Thread {
                ready.value.pointee.add(1, ordering: .relaxed)
                while ready.value.pointee.load(ordering: .relaxed) < 2 {}
                let keepAlive = produce(ring, pairs)
                producerMayExit.wait()
                keepAlive()
                producerDone.signal()
            }.start()
            Thread {
                ready.value.pointee.add(1, ordering: .relaxed)
                while ready.value.pointee.load(ordering: .relaxed) < 2 {}
                let start = monotonicNanoseconds()
                consume(ring, pairs)
                let end = monotonicNanoseconds()
                elapsed.withLock { $0 = end - start }
                consumerDone.signal()
            }.start()
            consumerDone.wait()
            producerMayExit.signal()
            producerDone.wait()
        }
        return Double(elapsed.withLock { $0 }) / Double(pairs)
    }

    // MARK: report

    func report(_ samples: [Case: [Double]]) {
        func cacheMedian(_ c: Case) -> Double {
            Summary(samples[Case(scenario: c.scenario, allocator: "cache", burst: c.burst, threads: c.threads)]!).median
        }
        if options.json {
            for c in cases {
                let s = Summary(samples[c]!)
                let fields: [(String, String)] = [
                    ("scenario", "\"\(c.scenario)\""), ("allocator", "\"\(c.allocator)\""),
                    ("burst", "\(c.burst)"), ("threads", "\(c.threads)"),
                    ("ns_per_pair_median", fixed(s.median, 3)), ("ns_per_pair_min", fixed(s.min, 3)),
                    ("ns_per_pair_max", fixed(s.max, 3)), ("ratio_to_cache", fixed(s.median / cacheMedian(c), 3)),
                    ("rounds", "\(options.rounds)"), ("pairs", "\(options.pairs)"),
                ]
                print(jsonLine(fields))
            }
            return
        }
        print("forwarder-bench alloc: ns per get+put pair, median of \(options.rounds) alternated rounds of \(options.pairs) pairs")
        print("cache preset: capacity \(options.preset.capacity), refill \(options.preset.refill), flush \(options.preset.flush)")
        print("")
        print(pad("scenario", 11) + pad("burst", 6) + pad("threads", 8) + pad("allocator", 18)
              + pad("ns/pair", 9) + pad("min–max", 16) + "× cache")
        for c in cases {
            let s = Summary(samples[c]!)
            print(pad(c.scenario, 11) + pad("\(c.burst)", 6) + pad("\(c.threads)", 8) + pad(c.allocator, 18)
                  + pad(fixed(s.median, 2), 9) + pad(fixed(s.min, 2) + "–" + fixed(s.max, 2), 16)
                  + fixed(s.median / cacheMedian(c), 2))
        }
    }
}

/// Wraps a value for a hand-off whose safety the caller guarantees (here: the pointer outlives
/// both threads because the caller waits for them).
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
