import XCTest
import CMallocCounter
@testable import BufferCache

/// A head freed while still built around a frame gives the frame back to its origin, whichever
/// allocator it is put to and however (one by one or in bulk): no wrapper allocator is needed.
final class FrameOriginTests: XCTestCase {
    /// What an origin's recycle calls saw: the addresses, in order, and how many calls.
    private final class Ring {
        var addresses: [UInt64] = []
        var calls = 0
    }

    /// An origin whose recycle appends to `ring` (the context is the ring, unretained).
    private func origin(_ ring: Ring) -> UnsafePointer<FrameOrigin> {
        FrameOrigin.make(context: OpaquePointer(Unmanaged.passUnretained(ring).toOpaque())) { context, frames, n in
            let ring = Unmanaged<Ring>.fromOpaque(UnsafeRawPointer(context!)).takeUnretainedValue()
            ring.calls += 1
            ring.addresses += UnsafeBufferPointer(start: frames, count: Int(n))
        }
    }

    private let frame = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 64)
    override func tearDown() { frame.deallocate() }

    private func build(_ head: PacketHead, _ address: UInt64, _ origin: UnsafePointer<FrameOrigin>?) {
        head.build(around: frame, address: address, origin: origin, capacity: 2048, dataOffset: 256, length: 60, wireLength: 60)
    }

    func testPutGivesTheFrameBackToItsOrigin() {
        let ring = Ring()
        let o = origin(ring)
        defer { FrameOrigin.destroy(o) }
        var cache = HeadCache(pool: HeadPool())!
        var plain = PlainAllocator()
        let a = cache.get()!, b = plain.getBulkForFrames(count: 1)
        build(a, 4096, o)
        build(b, 8192, o)
        cache.put(a)
        plain.put(b)
        XCTAssertEqual(ring.addresses, [4096, 8192])
        XCTAssertEqual(ring.calls, 2)
        XCTAssertFalse(a.isBuiltAroundFrame, "the head has its own buffer back")
        XCTAssertNil(a.meta.pointee.frameOrigin)
        // A head whose frame was taken (sent) is put without a call.
        let c = cache.get()!
        build(c, 12288, o)
        XCTAssertEqual(c.releaseFrame(), 12288)
        cache.put(c)
        XCTAssertEqual(ring.calls, 2)
    }

    /// putBulk: heads with their own buffer, heads of two origins and a head without one,
    /// mixed; one call per run of one origin, at most 64 frames a call.
    func testBulkPutGivesFramesBackInRunsOfOneOrigin() {
        let first = Ring(), second = Ring()
        let o1 = origin(first), o2 = origin(second)
        defer { FrameOrigin.destroy(o1); FrameOrigin.destroy(o2) }
        for useCache in [true, false] {
            first.addresses = []; first.calls = 0; second.addresses = []; second.calls = 0
            var cache = HeadCache(pool: HeadPool())!
            var plain = PlainAllocator()
            let heads = UnsafeMutablePointer<PacketHead>.allocate(capacity: 200)
            defer { heads.deallocate() }
            let got = useCache ? cache.getBulk(into: heads, count: 200) : plain.getBulkForFrames(into: heads, count: 200)
            XCTAssertEqual(got, 200)
            // 0-2 own buffer; 3-132 origin 1 (130 frames: 64 + 64 + 2); 133-139 origin 2; 140 no origin; 141-199 origin 1.
            for i in 3..<133 { build(heads[i], UInt64(i) * 4096, o1) }
            for i in 133..<140 { build(heads[i], UInt64(i) * 4096, o2) }
            build(heads[140], 140 * 4096, nil)
            for i in 141..<200 { build(heads[i], UInt64(i) * 4096, o1) }
            if useCache { cache.putBulk(heads, count: 200) } else { plain.putBulk(heads, count: 200) }
            XCTAssertEqual(first.addresses, (Array(3..<133) + Array(141..<200)).map { UInt64($0) * 4096 })
            XCTAssertEqual(first.calls, 3 + 1)
            XCTAssertEqual(second.addresses, (133..<140).map { UInt64($0) * 4096 })
            XCTAssertEqual(second.calls, 1)
            let counters = useCache ? cache.counters : plain.counters
            XCTAssertEqual(counters.puts, 200)
        }
    }

    /// In cache mode, heads built around frames and freed with them, one by one and in bulk,
    /// make no allocation once warmed up.
    func testFramesGoBackWithoutAllocationInCacheMode() {
        let ring = Ring()
        ring.addresses.reserveCapacity(100_000)
        let o = origin(ring)
        defer { FrameOrigin.destroy(o) }
        var cache = HeadCache(pool: HeadPool())!
        let burst = UnsafeMutablePointer<PacketHead>.allocate(capacity: 32)
        defer { burst.deallocate() }
        func cycle() {
            let n = cache.getBulkForFrames(into: burst, count: 32)
            for i in 0..<n { build(burst[i], UInt64(i) * 4096, o) }
            cache.putBulk(burst, count: n - 1)
            cache.put(burst[n - 1])
        }
        for _ in 0..<10 { cycle() }
        let before = cmc_thread_allocations()
        for _ in 0..<100 { cycle() }
        XCTAssertEqual(cmc_thread_allocations() - before, 0, "giving frames back must not malloc")
        XCTAssertEqual(ring.addresses.count, 110 * 32)
    }
}

private extension PlainAllocator {
    mutating func getBulkForFrames(count: Int) -> PacketHead {
        var head = PacketHead(UnsafeMutablePointer(bitPattern: 64)!)
        XCTAssertEqual(withUnsafeMutablePointer(to: &head) { getBulkForFrames(into: $0, count: 1) }, 1)
        return head
    }
}
