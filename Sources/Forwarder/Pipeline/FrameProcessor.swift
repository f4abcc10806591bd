import BufferCache

/// What happens to a received frame.
enum Verdict: Equatable {
    /// Send the (possibly rewritten) head out of this side.
    case forward(Side)
    /// Give the head back and count the reason.
    case drop(DropReason)
    /// The processor kept the head (held for ARP, or turned into a reply in its output queue).
    case consumed
}

/// The stage between RX and TX. The worker is generic over it, so each mode (transparent,
/// VLAN map, NAT) is specialised into the loop: no existential, no dynamic dispatch per frame.
protocol FrameProcessor: ~Copyable {
    /// Decides the fate of one frame received on `side`; may rewrite it in place.
    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict
    /// Timers (ARP retries, session expiry), called about once per loop; must stay bounded.
    mutating func tick<A: HeadAllocator & ~Copyable>(now: UInt64, allocator: inout A)
    /// The next frame the processor generated or released, with the side to send it on.
    mutating func popOutput() -> (Side, PacketHead)?
    /// Heads the processor holds (returned to the allocator when the worker stops).
    mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A)
    /// What the processor reports in stats (nil for stateless modes).
    var natCounters: NatCounters? { get }
}

extension FrameProcessor where Self: ~Copyable {
    mutating func tick<A: HeadAllocator & ~Copyable>(now: UInt64, allocator: inout A) {}
    mutating func popOutput() -> (Side, PacketHead)? { nil }
    mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A) {}
    var natCounters: NatCounters? { nil }
}

/// The default mode: every frame goes out of the other port unmodified.
struct TransparentBridge: FrameProcessor {
    @inline(__always)
    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        .forward(side.other)
    }
}

/// `--vlan-map`: stateless VLAN translation between the two ports.
struct VlanTranslator: FrameProcessor {
    let map: VlanMap

    @inline(__always)
    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        switch map.translate(head, from: side) {
        case .forward: return .forward(side.other)
        case .drop(.unmapped): return .drop(.vlanUnmapped)
        case .drop(.malformed): return .drop(.malformed)
        case .drop(.noHeadroom): return .drop(.noHeadroom)
        }
    }
}
