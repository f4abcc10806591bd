import BufferCache
import CXdp

/// The worker's allocator on AF_XDP ports: `Base`'s heads (cache or plain, unchanged), with one
/// more duty on every put. A head that is still built around a received UMEM frame when it is
/// freed (a drop, a frame a processor held and let go, the heads returned at stop) gives that
/// frame back to its socket's fill ring first and gets its own buffer back, whatever path
/// freed it: the worker, a processor through `allocator`, `releaseAll`. Heads whose frame went
/// out on a TX ring were released by the port's send, so their put does nothing more.
///
/// Generic over the base, so each combination is specialised: no existential, and the put path
/// allocates nothing (bulk puts collect the addresses in a buffer allocated once).
public struct UmemAllocator<Base: HeadAllocator & ~Copyable>: HeadAllocator, ~Copyable {
    public var base: Base
    /// Keeps the UMEM alive as long as a head of this allocator may point into it.
    public let pair: XdpPair
    @usableFromInline let umem: OpaquePointer
    @usableFromInline let frames: UnsafeMutablePointer<UInt64>
    @usableFromInline static var batch: Int { 64 }

    public init(base: consuming Base, pair: XdpPair) {
        self.base = base
        self.pair = pair
        umem = pair.pair
        frames = .allocate(capacity: Self.batch)
    }

    deinit { frames.deallocate() }

    public var kind: String { base.kind }
    public var counters: AllocatorCounters { base.counters }

    @inlinable
    public mutating func get() -> PacketHead? { base.get() }

    @inlinable
    public mutating func getBulk(into heads: UnsafeMutablePointer<PacketHead>, count: Int) -> Int {
        base.getBulk(into: heads, count: count)
    }

    @inlinable
    public mutating func getBulkForFrames(into heads: UnsafeMutablePointer<PacketHead>, count: Int) -> Int {
        base.getBulkForFrames(into: heads, count: count)
    }

    @inlinable
    public mutating func put(_ head: PacketHead) {
        if head.isBuiltAroundFrame { giveBack(head) }
        base.put(head)
    }

    /// One call into the shim per 64 frames given back.
    @inlinable
    public mutating func putBulk(_ heads: UnsafePointer<PacketHead>, count: Int) {
        var n: Int32 = 0
        for i in 0..<count where heads[i].isBuiltAroundFrame {
            frames[Int(n)] = heads[i].releaseFrame()
            n &+= 1
            if _slowPath(Int(n) == Self.batch) {
                cxdp_recycle(umem, frames, n)
                n = 0
            }
        }
        if n > 0 { cxdp_recycle(umem, frames, n) }
        base.putBulk(heads, count: count)
    }

    @usableFromInline @inline(never)
    func giveBack(_ head: PacketHead) {
        var address = head.releaseFrame()
        cxdp_recycle(umem, &address, 1)
    }
}
