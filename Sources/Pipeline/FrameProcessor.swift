import BufferCache

/// What happens to a received frame.
public enum Verdict: Equatable {
    /// Send the (possibly rewritten) head out of this side.
    case forward(Side)
    /// Give the head back and count the reason.
    case drop(DropReason)
    /// The processor kept the head (held for ARP, or turned into a reply in its output queue).
    case consumed
    /// Another worker owns the frame (several NAT workers): it goes to that worker's lane as it is.
    case handOff(worker: Int)
}

/// The stage between RX and TX. The worker is generic over it, so each mode (transparent,
/// VLAN map, NAT) is specialised into the loop: no existential, no dynamic dispatch per frame.
public protocol FrameProcessor: ~Copyable {
    /// What the processor counts besides the pipeline's own counters (its own type, so the
    /// pipeline needs to know nothing about it); published with the worker's counters.
    associatedtype Counters: Sendable = NoCounters
    /// Decides the fate of one frame received on `side`; may rewrite it in place.
    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict
    /// Timers (ARP retries, session expiry), called about once per loop; must stay bounded.
    mutating func tick<A: HeadAllocator & ~Copyable>(now: UInt64, allocator: inout A)
    /// The next frame the processor generated or released, with the side to send it on.
    mutating func popOutput() -> (Side, PacketHead)?
    /// A frame another worker handed over; by default processed as if received here.
    mutating func processHandedOff<A: HeadAllocator & ~Copyable>(
        _ handOff: HandOff, now: UInt64, allocator: inout A) -> Verdict
    /// The next hand-off the processor asks for besides its verdicts (copies for the other
    /// workers, held frames whose owner is now known).
    mutating func popHandOff() -> HandOffRequest?
    /// How long the worker may sleep in poll() when idle: a processor holding frames that
    /// another worker's progress will release (and only its `tick` notices) asks for less.
    var idleTimeoutMilliseconds: Int32 { get }
    /// Heads the processor holds (returned to the allocator when the worker stops).
    mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A)
    /// The processor's counters as of now.
    var counters: Counters { get }
    /// The processor's own name for why it returned its last `.drop(.processor)` (e.g. the NAT
    /// gateway's `no_session`); nil when it has none. Read only by a drop capture, right after
    /// that verdict.
    var lastDropReason: String? { get }
}

/// The counters of a processor that keeps none.
public struct NoCounters: Sendable, Equatable {
    public init() {}
}

extension FrameProcessor where Self: ~Copyable {
    @inlinable public mutating func tick<A: HeadAllocator & ~Copyable>(now: UInt64, allocator: inout A) {}
    @inlinable public mutating func popOutput() -> (Side, PacketHead)? { nil }
    @inlinable public mutating func processHandedOff<A: HeadAllocator & ~Copyable>(
        _ handOff: HandOff, now: UInt64, allocator: inout A) -> Verdict {
        process(handOff.head, from: handOff.side, now: now, allocator: &allocator)
    }
    @inlinable public mutating func popHandOff() -> HandOffRequest? { nil }
    @inlinable public var idleTimeoutMilliseconds: Int32 { 100 }
    @inlinable public mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A) {}
    @inlinable public var lastDropReason: String? { nil }
}

extension FrameProcessor where Self: ~Copyable, Counters == NoCounters {
    @inlinable public var counters: NoCounters { NoCounters() }
}
