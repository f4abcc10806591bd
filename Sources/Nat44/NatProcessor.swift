import BufferCache
import Pipeline

/// `--vlan-nat`: the NAT gateway as the pipeline's processor.
public struct NatProcessor: FrameProcessor, ~Copyable {
    var gateway: NatGateway
    /// The reason of the last drop, for a drop capture (`lastDropReason`).
    var lastDrop = NatDropReason.noSession

    public init(config: NatConfig) { gateway = NatGateway(config: config) }

    @inline(__always)
    public mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        switch gateway.process(head, from: side, now: now, allocator: &allocator) {
        case .forward(let out): return .forward(out)
        case .drop(let reason):
            lastDrop = reason
            return .drop(.processor)
        case .consumed: return .consumed
        }
    }

    public mutating func tick<A: HeadAllocator & ~Copyable>(now: UInt64, allocator: inout A) {
        gateway.tick(now: now, allocator: &allocator)
    }

    public mutating func popOutput() -> (Side, PacketHead)? { gateway.popOutput() }

    public mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A) {
        gateway.releaseAll(allocator: &allocator)
    }

    public var counters: NatCounters { gateway.counters }

    /// The NAT reason of the last `.drop(.processor)`, e.g. `no_session` (the `drops` key).
    public var lastDropReason: String? { lastDrop.description }
}
