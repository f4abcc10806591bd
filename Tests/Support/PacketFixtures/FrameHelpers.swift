import BufferCache

extension PacketHead {
    /// The frame's bytes.
    public var frameBytes: [UInt8] { Array(UnsafeRawBufferPointer(start: data, count: length)) }
}

/// A head holding `bytes` (with the allocator's headroom in front).
public func makeHead<A: HeadAllocator & ~Copyable>(_ bytes: [UInt8], _ allocator: inout A) -> PacketHead {
    let h = allocator.get()!
    h.length = bytes.count
    bytes.withUnsafeBytes { h.data.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    return h
}

public func hex(_ b: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(b.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
}

/// Where two frames first differ, for failure messages.
public func firstDifference(_ got: [UInt8], _ want: [UInt8]) -> String {
    var i = 0
    while i < min(got.count, want.count) && got[i] == want[i] { i += 1 }
    return "lengths \(got.count)/\(want.count), first difference at byte \(i)\n got: \(hex(got))\nwant: \(hex(want))"
}

/// SplitMix64: a seeded generator so fuzz runs are reproducible.
public struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
