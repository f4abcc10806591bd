import BufferCache

/// The default mode: every frame goes out of the other port unmodified.
public struct TransparentBridge: FrameProcessor {
    public init() {}

    @inlinable @inline(__always)
    public mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        .forward(side.other)
    }
}
