import BufferCache
import Pipeline

/// `forwarder-bench layout`: does the frame buffer ride in the head (one object, like a DPDK
/// mbuf) or come from a second per-thread allocator (like the kernel's page_frag)? Both variants
/// use the same `HeadCache` code, so the difference is the layout alone: one get/put per packet
/// and one object to touch, against two of each.
struct LayoutBenchmark {
    let options: AllocBenchmark.Options
    let burst = 32

    func run() {
        let together = HeadPool()
        let headsOnly = HeadPool(.init(geometry: HeadGeometry(dataSize: 8, headroom: 8)))
        let fragments = HeadPool()
        var one = HeadCache(pool: together, configuration: options.preset)!
        var heads = HeadCache(pool: headsOnly, configuration: options.preset)!
        var frags = HeadCache(pool: fragments, configuration: options.preset)!
        var combined: [Double] = [], split: [Double] = []
        _ = combinedLoop(&one, pairs: options.pairs / 8)
        _ = splitLoop(&heads, &frags, pairs: options.pairs / 8)
        for _ in 0..<options.rounds {
            combined.append(combinedLoop(&one, pairs: options.pairs))
            split.append(splitLoop(&heads, &frags, pairs: options.pairs))
        }
        let c = Summary(combined), s = Summary(split)
        if options.json {
            print("{\"scenario\":\"layout\",\"layout\":\"combined\",\"burst\":\(burst),\"ns_per_pair_median\":\(fixed(c.median, 3)),\"ratio_to_combined\":1.000}")
            print("{\"scenario\":\"layout\",\"layout\":\"split\",\"burst\":\(burst),\"ns_per_pair_median\":\(fixed(s.median, 3)),\"ratio_to_combined\":\(fixed(s.median / c.median, 3))}")
            return
        }
        print("forwarder-bench layout: ns per packet (get, touch head and data, put), burst \(burst), median of \(options.rounds) alternated rounds")
        print(pad("layout", 10) + pad("ns/pair", 9) + pad("min–max", 16) + "× combined")
        print(pad("combined", 10) + pad(fixed(c.median, 2), 9) + pad(fixed(c.min, 2) + "–" + fixed(c.max, 2), 16) + "1.00")
        print(pad("split", 10) + pad(fixed(s.median, 2), 9) + pad(fixed(s.min, 2) + "–" + fixed(s.max, 2), 16) + fixed(s.median / c.median, 2))
    }

    func combinedLoop(_ cache: inout HeadCache, pairs: Int) -> Double {
        let out = UnsafeMutablePointer<PacketHead>.allocate(capacity: burst)
        defer { out.deallocate() }
        let iterations = pairs / burst
        let start = monotonicNanoseconds()
        for i in 0..<iterations {
            let n = cache.getBulk(into: out, count: burst)
            for j in 0..<n {
                out[j].length = 60
                out[j].data.storeBytes(of: UInt32(truncatingIfNeeded: i &+ j), as: UInt32.self)
            }
            cache.putBulk(out, count: n)
        }
        return Double(monotonicNanoseconds() - start) / Double(iterations * burst)
    }

    func splitLoop(_ heads: inout HeadCache, _ frags: inout HeadCache, pairs: Int) -> Double {
        let out = UnsafeMutablePointer<PacketHead>.allocate(capacity: burst)
        let data = UnsafeMutablePointer<PacketHead>.allocate(capacity: burst)
        defer { out.deallocate(); data.deallocate() }
        let iterations = pairs / burst
        let start = monotonicNanoseconds()
        for i in 0..<iterations {
            let n = heads.getBulk(into: out, count: burst)
            let m = frags.getBulk(into: data, count: n)
            precondition(m == n)
            for j in 0..<n {
                // Point the head at the fragment's buffer, as a head + page_frag skb would.
                out[j].meta.pointee.buffer = data[j].meta.pointee.buffer
                out[j].length = 60
                out[j].data.storeBytes(of: UInt32(truncatingIfNeeded: i &+ j), as: UInt32.self)
            }
            for j in 0..<n { out[j].meta.pointee.buffer = UnsafeMutableRawPointer(out[j].meta) + PacketHead.metaStride }
            frags.putBulk(data, count: n)
            heads.putBulk(out, count: n)
        }
        return Double(monotonicNanoseconds() - start) / Double(iterations * burst)
    }
}
