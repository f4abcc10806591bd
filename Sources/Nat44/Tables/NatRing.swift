import BufferCache
import Pipeline

/// A fixed-capacity FIFO allocated once; a push is a store and an index update.
///
/// The gateway has two: its output (frames it produced — ARP requests, ICMP errors, packets
/// released after ARP resolution or fragment reordering — each with the side to send it on) and,
/// with several workers, its hand-offs (frames for another worker: ARP copies, hairpins, held
/// fragments whose owner became known).
struct NatRing<Element>: ~Copyable {
    private let items: NatArray<Element?>
    private let mask: Int
    private var readIndex = 0
    private var writeIndex = 0

    /// At least `capacity` elements (rounded up to a power of two).
    init(capacity: Int) {
        var c = 1
        while c < capacity { c <<= 1 }
        items = NatArray(repeating: nil, count: c)
        mask = c - 1
    }

    var count: Int { writeIndex - readIndex }
    var isFull: Bool { count > mask }

    /// False when full (the caller puts the head back and counts `outputFull`).
    @inline(__always)
    mutating func push(_ item: Element) -> Bool {
        guard !isFull else { return false }
        items[writeIndex & mask] = item
        writeIndex &+= 1
        return true
    }

    @inline(__always)
    mutating func pop() -> Element? {
        guard readIndex != writeIndex else { return nil }
        let i = readIndex & mask
        let item = items[i]
        items[i] = nil
        readIndex &+= 1
        return item
    }
}

/// Frames to send, with their side.
typealias NatOutputRing = NatRing<(Side, PacketHead)>

/// Frames for other workers.
typealias NatHandOffRing = NatRing<HandOffRequest>
