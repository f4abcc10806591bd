import BufferCache
import Pipeline

/// `--vlan-nat`: the NAT gateway as the pipeline's processor. With several workers each runs one
/// over its own share: a frame that belongs to another worker is handed to it (`.handOff`), and
/// copies, hairpins and held fragments go through `popHandOff`.
public struct NatProcessor: FrameProcessor, ~Copyable {
    var gateway: NatGateway
    /// The reason of the last drop, for a drop capture (`lastDropReason`).
    var lastDrop = NatDropReason.noSession

    /// The single-worker gateway.
    public init(config: NatConfig) { gateway = NatGateway(config: config) }

    /// Worker `share.index` of `share.count`; every worker of one gateway gets the same
    /// `fragments` directory (nil only with one worker).
    public init(config: NatConfig, share: NatWorkerShare, fragments: NatFragmentDirectory?) {
        gateway = NatGateway(config: config, share: share, directory: fragments)
    }

    @inline(__always)
    public mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        // The headers are read once, for steering and the gateway both.
        let frame = NatFrameView(head)
        if gateway.share.count > 1,
           let owner = gateway.ownerElsewhere(head, frame, from: side, now: now, allocator: &allocator) {
            return .handOff(worker: owner)
        }
        return verdict(gateway.process(head, frame, from: side, now: now, allocator: &allocator))
    }

    /// A frame from another worker: its own (processed without steering: the sender found this
    /// worker its owner), an ARP copy to learn from, or the second half of a hairpin.
    public mutating func processHandedOff<A: HeadAllocator & ~Copyable>(
        _ handOff: HandOff, now: UInt64, allocator: inout A) -> Verdict {
        switch NatHandOffMark(rawValue: handOff.mark) {
        case .arpCopy:
            gateway.learnFromCopy(handOff.head, handOff.side, now, &allocator)
            allocator.put(handOff.head)
            return .consumed
        case .hairpin:
            return verdict(gateway.hairpinDestination(handOff.head, now: now, &allocator))
        case .plain, nil:
            return verdict(gateway.process(handOff.head, from: handOff.side, now: now, allocator: &allocator))
        }
    }

    @inline(__always)
    private mutating func verdict(_ v: NatVerdict) -> Verdict {
        switch v {
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

    public mutating func popHandOff() -> HandOffRequest? { gateway.popHandOff() }

    public mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A) {
        gateway.releaseAll(allocator: &allocator)
    }

    public var counters: NatCounters { gateway.counters }

    /// Fragments held for a first fragment that another worker may translate: `tick` hands them
    /// on once the directory names it, so tick soon.
    public var idleTimeoutMilliseconds: Int32 { gateway.directory != nil && gateway.fragments.heldCount > 0 ? 1 : 100 }

    /// The NAT reason of the last `.drop(.processor)`, e.g. `no_session` (the `drops` key).
    public var lastDropReason: String? { lastDrop.description }
}
