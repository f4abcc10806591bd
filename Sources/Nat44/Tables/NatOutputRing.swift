import BufferCache
import Pipeline

/// A fixed-capacity FIFO of frames the gateway produced (ARP requests, ICMP errors, packets
/// released after ARP resolution or fragment reordering), each with the side to send it on.
/// Allocated once; a push is two stores.
struct NatOutputRing: ~Copyable {
    private let heads: NatArray<PacketHead?>
    private let sides: NatArray<Side>
    private let mask: Int
    private var readIndex = 0
    private var writeIndex = 0

    init(capacity: Int) {
        var c = 1
        while c < capacity { c <<= 1 }
        heads = NatArray(repeating: nil, count: c)
        sides = NatArray(repeating: .inside, count: c)
        mask = c - 1
    }

    var count: Int { writeIndex - readIndex }
    var isFull: Bool { count > mask }

    /// False when full (the caller puts the head back and counts `outputFull`).
    @inline(__always)
    mutating func push(_ head: PacketHead, _ side: Side) -> Bool {
        guard !isFull else { return false }
        heads[writeIndex & mask] = head
        sides[writeIndex & mask] = side
        writeIndex &+= 1
        return true
    }

    @inline(__always)
    mutating func pop() -> (Side, PacketHead)? {
        guard readIndex != writeIndex else { return nil }
        let i = readIndex & mask
        let h = heads[i]!
        heads[i] = nil
        readIndex &+= 1
        return (sides[i], h)
    }
}
