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
