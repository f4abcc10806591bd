/// The fixed-size metadata record of a packet: the analogue of the kernel's `struct sk_buff`.
///
/// It lives at the start of the head's memory; in cache mode the frame buffer follows it in the
/// same object (like a DPDK mbuf), in plain mode the buffer is a separate malloc. Either way the
/// layout is the same, so the pipeline never knows which allocator it runs on.
/// Fields are cleared by `reset` when the head is handed out (as `napi_skb_cache_get` does),
/// never when it is put back: a put stays a pointer store.
public struct HeadMeta {
    /// Start of the buffer (headroom first, then frame data).
    public var buffer: UnsafeMutableRawPointer
    /// Intrusive link: pool free lists and the lock-free remote-free list thread heads through it.
    public var next: UnsafeMutablePointer<HeadMeta>?
    /// The head's own buffer while `buffer` points into a frame it was built around (an AF_XDP
    /// UMEM frame, see `build(around:)`); nil otherwise.
    public var ownBuffer: UnsafeMutableRawPointer?
    /// The address (in its UMEM) of the frame `buffer` points into; `HeadMeta.noFrame` while
    /// the head uses its own buffer.
    public var frameAddress: UInt64
    /// Where that frame goes back when the head is freed with it (`FrameOrigin`); nil while the
    /// head uses its own buffer, or when whoever built it takes the frame back itself.
    public var frameOrigin: UnsafePointer<FrameOrigin>?
    /// Bytes in the buffer: headroom + data + tailroom.
    public var capacity: UInt32
    /// `capacity` of the head's own buffer while it is built around a frame.
    public var ownCapacity: UInt32
    /// Frame length in the buffer.
    public var length: UInt32
    /// Length on the wire; bigger than `length` when the capture truncated the frame.
    public var wireLength: UInt32
    /// Debug state word: `HeadState` raw values; only maintained when debug checks are on.
    public var state: UInt32
    /// Offset of the first frame byte from `buffer`.
    public var dataOffset: UInt16
    /// Id of the `HeadCache` that handed this head out (0 = none: plain allocator or pool).
    public var owner: UInt16
}

/// Debug states of a head (see `HeadCache.Configuration.debugChecks`).
public enum HeadState: UInt32 {
    case fresh = 0
    case inUse = 0x1A5E_1A5E
    case free = 0xF4EE_F4EE
}

/// A handle on one packet head: a single pointer, trivially copyable, no reference counting.
///
/// Ownership is by convention, as with an `sk_buff *`: whoever holds the handle after a get owns
/// the head until it puts it back. Setters are `nonmutating` because the handle is a pointer.
@frozen
public struct PacketHead: Hashable, @unchecked Sendable {
    public let meta: UnsafeMutablePointer<HeadMeta>

    @inlinable
    public init(_ meta: UnsafeMutablePointer<HeadMeta>) { self.meta = meta }

    /// Size of the metadata record rounded to a cache line: the buffer of a cache-mode head
    /// starts this many bytes after the head.
    public static let metaStride = (MemoryLayout<HeadMeta>.size + 63) & ~63

    /// First byte of the frame.
    @inlinable
    public var data: UnsafeMutableRawPointer { meta.pointee.buffer + Int(meta.pointee.dataOffset) }

    @inlinable
    public var length: Int {
        get { Int(meta.pointee.length) }
        nonmutating set {
            assert(newValue >= 0 && newValue <= tailroomLimit, "length beyond the buffer")
            meta.pointee.length = UInt32(truncatingIfNeeded: newValue)
        }
    }

    /// The frame as a byte buffer (bounds-checked in debug builds).
    @inlinable
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: data, count: length) }

    /// Free bytes in front of the frame.
    @inlinable
    public var headroom: Int { Int(meta.pointee.dataOffset) }

    /// The largest frame the buffer can hold from the current data offset.
    @inlinable
    public var tailroomLimit: Int { Int(meta.pointee.capacity) - Int(meta.pointee.dataOffset) }

    /// Free bytes after the frame.
    @inlinable
    public var tailroom: Int { tailroomLimit - length }

    /// Clears the metadata for a new packet: what `napi_skb_cache_get` does with its memset.
    @inlinable
    public func reset(headroom: Int, owner: UInt16) {
        let m = meta
        m.pointee.next = nil
        m.pointee.length = 0
        m.pointee.wireLength = 0
        m.pointee.dataOffset = UInt16(truncatingIfNeeded: headroom)
        m.pointee.owner = owner
    }

    /// Opens `count` bytes at `offset` inside the frame by moving the bytes before it into the
    /// headroom: a VLAN push moves 12 bytes of MAC addresses, never the payload.
    /// Returns the pointer to the gap, or nil when the headroom is too small.
    @inlinable
    public func insertGap(at offset: Int, count: Int) -> UnsafeMutableRawPointer? {
        assert(offset >= 0 && offset <= length && count >= 0)
        guard count <= headroom else { return nil }
        let old = data
        let new = old - count
        if offset > 0 { new.copyMemory(from: old, byteCount: offset) }
        meta.pointee.dataOffset -= UInt16(truncatingIfNeeded: count)
        meta.pointee.length += UInt32(truncatingIfNeeded: count)
        return new + offset
    }

    /// Removes `count` bytes at `offset` by moving the bytes before them forward: a VLAN pop.
    @inlinable
    public func removeBytes(at offset: Int, count: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= length, "remove beyond the frame")
        let old = data
        if offset > 0 { (old + count).copyMemory(from: old, byteCount: offset) }
        meta.pointee.dataOffset += UInt16(truncatingIfNeeded: count)
        meta.pointee.length -= UInt32(truncatingIfNeeded: count)
    }
}

/// Buffer geometry shared by every allocator, so plain and cache heads look the same.
public struct HeadGeometry: Sendable, Equatable {
    /// Room for a frame: 2048 holds any 1518-byte Ethernet frame plus tags, and a 1500 MTU
    /// frame captured with its metadata tag restored.
    public var dataSize: Int
    /// Room in front of the frame. Two VLAN tags need 8 bytes; 64 keeps the frame's start
    /// cache-line aligned after the metadata record.
    public var headroom: Int

    public init(dataSize: Int = 2048, headroom: Int = 64) {
        precondition(dataSize > 0 && headroom >= 8 && headroom + dataSize <= Int(UInt32.max))
        precondition(headroom <= Int(UInt16.max))
        self.dataSize = dataSize
        self.headroom = headroom
    }

    public static let `default` = HeadGeometry()

    /// Bytes of buffer (headroom + data).
    public var bufferSize: Int { headroom + dataSize }
    /// Bytes of a head that carries its buffer with it (cache mode).
    public var objectSize: Int { PacketHead.metaStride + bufferSize }
}
