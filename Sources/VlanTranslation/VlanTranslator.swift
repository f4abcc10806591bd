import BufferCache
import Pipeline

/// `--vlan-map` as the pipeline's processor: stateless VLAN translation between the two ports.
public struct VlanTranslator: FrameProcessor {
    public let map: VlanMap

    public init(map: VlanMap) { self.map = map }

    @inline(__always)
    public mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        switch map.translate(head, from: side) {
        case .forward: return .forward(side.other)
        case .drop(.unmapped): return .drop(.unmapped)
        case .drop(.malformed): return .drop(.malformed)
        case .drop(.noHeadroom): return .drop(.noHeadroom)
        }
    }
}
