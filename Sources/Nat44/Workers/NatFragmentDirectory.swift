import Synchronization

/// Which worker translated the first fragment of a datagram, for the workers that receive its
/// later fragments (they carry no ports, so `NatSteering` cannot place them). Shared by all the
/// workers of one gateway, lock-free: a fixed array of atomic words, one per hash slot, written
/// by the owner when it translates a first fragment and read by any worker with a later one.
///
/// A slot holds the key's hash tag (40 bits), the record's expiry in seconds mod 2^16 (16 bits)
/// and owner + 1 (8 bits; 0 is an empty slot). Two datagrams hashing to one slot overwrite each
/// other (the later wins): a fragment then finds no owner and is held, then dropped as
/// `fragment`, the same as one whose first fragment never came. A tag match by chance (2^-40)
/// sends a fragment to a worker without its record, which holds and then drops it: never a
/// wrong translation, since each worker translates only from its own fragment table.
public final class NatFragmentDirectory: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<Atomic<UInt64>>
    private let mask: Int
    /// Random per directory, so that keys cannot be aimed at one slot.
    private let multiplier: UInt64

    /// `capacity` slots, rounded up to a power of two (at least 64).
    public init(capacity: Int = 4096) {
        var c = 64
        while c < capacity { c <<= 1 }
        mask = c - 1
        slots = .allocate(capacity: c)
        for i in 0..<c { (slots + i).initialize(to: Atomic(0)) }
        var g = SystemRandomNumberGenerator()
        multiplier = g.next() | 1
    }

    deinit {
        slots.deinitialize(count: mask + 1)
        slots.deallocate()
    }

    /// Records that `owner` translated the first fragment of `key`'s datagram, valid until
    /// `expires` (ns).
    func publish(_ key: FragmentKey, owner: Int, expires: UInt64) {
        let h = hash(key)
        let value = h & Self.tagMask | (expires / 1_000_000_000 & 0xFFFF) << 8 | UInt64(owner + 1)
        slots[slot(h)].store(value, ordering: .releasing)
    }

    /// The worker that translated the first fragment of `key`'s datagram, if recorded and not
    /// expired at `now` (ns).
    func owner(_ key: FragmentKey, now: UInt64) -> Int? {
        let h = hash(key)
        let v = slots[slot(h)].load(ordering: .acquiring)
        guard v & 0xFF != 0, v & Self.tagMask == h & Self.tagMask else { return nil }
        // Seconds left, mod 2^16: negative once past its expiry.
        let left = Int16(truncatingIfNeeded: (v >> 8 & 0xFFFF) &- (now / 1_000_000_000))
        guard left >= 0 else { return nil }
        return Int(v & 0xFF) - 1
    }

    private static let tagMask: UInt64 = ~0 << 24

    @inline(__always)
    private func hash(_ key: FragmentKey) -> UInt64 {
        let k = key.hashBits
        return (k ^ (k >> 29)) &* multiplier
    }

    /// The slot from the hash's low bits (the tag is its high bits).
    @inline(__always)
    private func slot(_ h: UInt64) -> Int { Int(truncatingIfNeeded: h >> 8) & mask }
}
