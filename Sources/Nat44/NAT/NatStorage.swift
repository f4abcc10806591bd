import BufferCache
import PacketFormats
import Pipeline

/// A fixed-size array of trivial values allocated once, owned by one table.
///
/// The NAT's tables live in these rather than in Swift arrays: no copy-on-write uniqueness check
/// and no retain on the per-packet path, and `~Copyable` so a table can never be shared by
/// accident (two owners of one session table would be a double free). Bounds are asserted in
/// debug builds; every index the tables compute is masked or range-checked before use.
struct NatArray<Element>: ~Copyable {
    let base: UnsafeMutablePointer<Element>
    let count: Int

    init(repeating value: Element, count: Int) {
        precondition(count >= 0)
        self.count = count
        base = .allocate(capacity: Swift.max(count, 1))
        base.initialize(repeating: value, count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    @inline(__always)
    subscript(i: Int) -> Element {
        unsafeAddress {
            assert(i >= 0 && i < count, "NatArray index out of range")
            return UnsafePointer(base + i)
        }
        nonmutating unsafeMutableAddress {
            assert(i >= 0 && i < count, "NatArray index out of range")
            return base + i
        }
    }

    /// Sets every element to `value`.
    func fill(_ value: Element) {
        base.update(repeating: value, count: count)
    }
}

extension NatArray where Element == Int32 {
    /// A stack of free slot indices, `count - 1` at the bottom and 0 on top (handed out first).
    init(freeListOf count: Int) {
        self.init(repeating: 0, count: count)
        for i in 0..<count { base[i] = Int32(count - 1 - i) }
    }
}

/// Multiplicative hashing into `1 << bits` buckets with a per-table random odd multiplier, so an
/// inside host cannot precompute keys that share a chain. Computed once per lookup: a multiply
/// and a shift.
struct NatHasher {
    let multiplier: UInt64
    let shift: UInt64

    init(bits: Int) {
        precondition(bits >= 1 && bits <= 32)
        var g = SystemRandomNumberGenerator()
        multiplier = g.next() | 1
        shift = UInt64(64 - bits)
    }

    @inline(__always)
    func bucket(_ key: UInt64) -> Int {
        // Mix the high bits down first: keys differ mostly in their low bits.
        let k = key ^ (key >> 29)
        return Int(truncatingIfNeeded: (k &* multiplier) >> shift)
    }

    /// Bits for a table of `capacity` entries: buckets ≥ capacity, at least 16.
    static func bits(for capacity: Int) -> Int {
        var b = 4
        while (1 << b) < capacity && b < 32 { b += 1 }
        return b
    }
}

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
