/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
///
/// The NAT rewrites a few 16-bit words per packet (an address, a port, the TTL). Recomputing a
/// TCP checksum over a 1500-byte segment would touch every byte; the incremental form touches only
/// the changed words: HC' = ~(~HC + ~m + m') (RFC 1624 eqn. 3), accumulated here as a `delta`
/// (the sum of ~m + m' over all changed words) that can then be applied to several checksums
/// (the IPv4 header and the TCP/UDP pseudo-header share the address change).
///
/// A checksum that is only a partial pseudo-header sum (TX checksum offload on veth) stays
/// consistent under incremental update, since both are linear in the changed words.
public enum InternetChecksum {
    /// Accumulates the change of one 16-bit word.
    @inlinable @inline(__always)
    public static func delta(_ old: UInt16, _ new: UInt16) -> UInt32 {
        UInt32(~old) &+ UInt32(new)
    }

    /// Accumulates the change of a 32-bit field (an IPv4 address) as two words.
    @inlinable @inline(__always)
    public static func delta(_ old: UInt32, _ new: UInt32) -> UInt32 {
        UInt32(~UInt16(truncatingIfNeeded: old >> 16)) &+ UInt32(~UInt16(truncatingIfNeeded: old))
            &+ (new >> 16) &+ (new & 0xFFFF)
    }

    /// Folds a 32-bit one's-complement accumulator to 16 bits (end-around carry).
    @inlinable @inline(__always)
    public static func fold(_ sum: UInt32) -> UInt16 {
        var s = (sum & 0xFFFF) &+ (sum >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        return UInt16(truncatingIfNeeded: s)
    }

    /// Applies an accumulated `delta` to checksum `hc` (RFC 1624 eqn. 3).
    @inlinable @inline(__always)
    public static func apply(_ hc: UInt16, _ delta: UInt32) -> UInt16 {
        ~fold(UInt32(~hc) &+ UInt32(fold(delta)))
    }

    /// The one's-complement sum of `count` bytes at `p` (odd trailing byte padded with zero),
    /// added to `initial`. Not inverted. Used on slow paths (ICMP generation and verification)
    /// and for the 20-byte IPv4 header check.
    @inlinable @inline(__always)
    public static func sum(_ p: UnsafeRawPointer, count: Int, initial: UInt32 = 0) -> UInt32 {
        var acc = UInt64(initial)
        var i = 0
        while i + 4 <= count {
            acc &+= UInt64(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i += 4
        }
        if i + 2 <= count {
            acc &+= UInt64(p.readBE16(i))
            i += 2
        }
        if i < count { acc &+= UInt64(p.readU8(i)) << 8 }
        // Fold 64 -> 32 -> 16 keeping end-around carries.
        acc = (acc & 0xFFFF_FFFF) &+ (acc >> 32)
        acc = (acc & 0xFFFF_FFFF) &+ (acc >> 32)
        return UInt32(fold(UInt32(truncatingIfNeeded: acc)))
    }

    /// The checksum to store for `count` bytes at `p` (with the checksum field zeroed).
    @inlinable @inline(__always)
    public static func compute(_ p: UnsafeRawPointer, count: Int, initial: UInt32 = 0) -> UInt16 {
        ~fold(sum(p, count: count, initial: initial))
    }

    /// True when the bytes (checksum field included) sum to all ones.
    @inlinable @inline(__always)
    public static func verify(_ p: UnsafeRawPointer, count: Int, initial: UInt32 = 0) -> Bool {
        fold(sum(p, count: count, initial: initial)) == 0xFFFF
    }
}
