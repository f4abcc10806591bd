#if canImport(Glibc)
import Glibc
#endif

/// The baseline the cache is measured against: one malloc and one free per head and per data
/// buffer, as the kernel did with one-by-one `kmem_cache_alloc` before the series. Same head
/// layout, same interface as `HeadCache`; only where heads come from differs. Heads to be built
/// around frames they do not own (`getBulkForFrames`) get no buffer at all: one malloc, as
/// `napi_build_skb` allocates only the skb; such a head has capacity 0 and its `buffer` is the
/// head itself (never read: there is no room).
public struct PlainAllocator: ~Copyable, HeadAllocator {
    public let geometry: HeadGeometry
    @usableFromInline var _counters = AllocatorCounters()

    public init(geometry: HeadGeometry = .default) {
        self.geometry = geometry
    }

    public var kind: String { "plain" }
    public var counters: AllocatorCounters { _counters }

    @inlinable
    public mutating func get() -> PacketHead? {
        guard let raw = malloc(MemoryLayout<HeadMeta>.stride) else { return failed() }
        guard let buffer = malloc(geometry.bufferSize) else {
            free(raw)
            return failed()
        }
        let meta = raw.bindMemory(to: HeadMeta.self, capacity: 1)
        meta.initialize(to: HeadMeta(buffer: buffer, capacity: UInt32(truncatingIfNeeded: geometry.bufferSize)))
        let head = PacketHead(meta)
        head.reset(headroom: geometry.headroom, owner: 0)
        _counters.gets &+= 1
        return head
    }

    @usableFromInline @inline(never)
    mutating func failed() -> PacketHead? {
        _counters.refillFailures &+= 1
        return nil
    }

    @inlinable
    public mutating func put(_ head: PacketHead) {
        head.returnFrameIfHeld()
        _counters.puts &+= 1
        if head.meta.pointee.capacity != 0 { free(head.meta.pointee.buffer) }
        free(UnsafeMutableRawPointer(head.meta))
    }

    /// A head without a buffer (see the type's comment): the head's one malloc.
    @inlinable
    mutating func getForFrame() -> PacketHead? {
        guard let raw = malloc(MemoryLayout<HeadMeta>.stride) else { return failed() }
        let meta = raw.bindMemory(to: HeadMeta.self, capacity: 1)
        meta.initialize(to: HeadMeta(buffer: raw, capacity: 0))
        let head = PacketHead(meta)
        head.reset(headroom: 0, owner: 0)
        _counters.gets &+= 1
        return head
    }

    @inlinable
    public mutating func getBulkForFrames(into heads: UnsafeMutablePointer<PacketHead>, count n: Int) -> Int {
        fill(heads, n) { $0.getForFrame() }
    }

    @inlinable
    public mutating func getBulk(into heads: UnsafeMutablePointer<PacketHead>, count n: Int) -> Int {
        fill(heads, n) { $0.get() }
    }

    /// Up to `n` heads from `one` into `heads`; how many, stopping at the first failure.
    @inlinable
    mutating func fill(_ heads: UnsafeMutablePointer<PacketHead>, _ n: Int, _ one: (inout PlainAllocator) -> PacketHead?) -> Int {
        for i in 0..<n {
            guard let head = one(&self) else { return i }
            heads[i] = head
        }
        return n
    }

    @inlinable
    public mutating func putBulk(_ heads: UnsafePointer<PacketHead>, count n: Int) {
        for i in 0..<n {
            // Once a head holding a frame is met, its frame and every later one go back in bulk.
            if _slowPath(heads[i].isBuiltAroundFrame) { PacketHead.returnFrames(heads + i, count: n - i) }
            put(heads[i])
        }
    }
}
