/// A head built around a frame it does not own, as `napi_build_skb` builds an skb around a
/// page fragment: an AF_XDP port receives into UMEM frames, and instead of copying a frame into
/// the head's buffer it points the head at the frame. The head still comes from its allocator
/// (cache or plain, on equal terms); its own buffer is kept aside and given back to it by
/// `releaseFrame` before the head can be put back or reused.
extension HeadMeta {
    /// `frameAddress` of a head that uses its own buffer.
    public static let noFrame = UInt64.max
}

/// Where the frames a port builds heads around go back when a head is freed still holding one
/// (a drop, a frame a processor let go, the heads returned at stop), as a DPDK external buffer
/// carries its own free callback: every allocator's `put` and `putBulk` give the frame back
/// through it, so no allocator needs to know the port. One per UMEM, made and destroyed by its
/// owner, which outlives every head built around its frames; used only by the thread holding
/// the frames (the scratch is that thread's).
public struct FrameOrigin {
    /// Gives `count` frames (their addresses) back to `context`'s ring: a C call, no context
    /// captured, so the per-frame path calls no closure and no existential.
    public typealias Recycle = @convention(c) (OpaquePointer?, UnsafePointer<UInt64>?, Int32) -> Void

    public let context: OpaquePointer
    public let recycle: Recycle
    /// Addresses collected by a bulk put, one `recycle` per `batch` of them.
    @usableFromInline let scratch: UnsafeMutablePointer<UInt64>
    @usableFromInline static var batch: Int { 64 }

    /// A new origin; `destroy` it once no head can hold one of its frames.
    public static func make(context: OpaquePointer, recycle: Recycle) -> UnsafePointer<FrameOrigin> {
        let origin = UnsafeMutablePointer<FrameOrigin>.allocate(capacity: 1)
        origin.initialize(to: FrameOrigin(context: context, recycle: recycle, scratch: .allocate(capacity: batch)))
        return UnsafePointer(origin)
    }

    /// Gives back the first `count` addresses of the scratch.
    @usableFromInline
    func recycleScratch(count: Int) {
        if count > 0 { recycle(context, scratch, Int32(count)) }
    }

    public static func destroy(_ origin: UnsafePointer<FrameOrigin>) {
        origin.pointee.scratch.deallocate()
        UnsafeMutablePointer(mutating: origin).deinitialize(count: 1).deallocate()
    }
}

extension PacketHead {
    /// True while the head's buffer is a frame it was built around.
    @inlinable
    public var isBuiltAroundFrame: Bool { meta.pointee.frameAddress != HeadMeta.noFrame }

    /// Points the head at `frame` (`capacity` bytes, its UMEM address `address`), the data
    /// `dataOffset` bytes into it: the bytes before are the headroom a VLAN push uses. A put of
    /// the head while it holds the frame gives the frame back to `origin`.
    @inlinable
    public func build(around frame: UnsafeMutableRawPointer, address: UInt64, origin: UnsafePointer<FrameOrigin>? = nil,
                      capacity: UInt32, dataOffset: UInt32, length: UInt32, wireLength: UInt32) {
        let m = meta
        assert(m.pointee.frameAddress == HeadMeta.noFrame, "the head already holds a frame")
        assert(dataOffset <= capacity && length <= capacity - dataOffset, "frame beyond its buffer")
        m.pointee.ownBuffer = m.pointee.buffer
        m.pointee.ownCapacity = m.pointee.capacity
        m.pointee.buffer = frame
        m.pointee.capacity = capacity
        m.pointee.frameAddress = address
        m.pointee.frameOrigin = origin
        m.pointee.dataOffset = UInt16(truncatingIfNeeded: dataOffset)
        m.pointee.length = length
        m.pointee.wireLength = wireLength
    }

    /// Gives the head its own buffer back and returns the address of the frame it was built
    /// around, which is the caller's now (to send, or to give back to its ring).
    @inlinable
    public func releaseFrame() -> UInt64 {
        let m = meta
        let address = m.pointee.frameAddress
        assert(address != HeadMeta.noFrame, "the head holds no frame")
        m.pointee.buffer = m.pointee.ownBuffer.unsafelyUnwrapped
        m.pointee.capacity = m.pointee.ownCapacity
        m.pointee.ownBuffer = nil
        m.pointee.frameAddress = HeadMeta.noFrame
        m.pointee.frameOrigin = nil
        return address
    }

    /// A put's first step: the frame the head still holds goes back to its origin. One
    /// predictable branch for a head with its own buffer.
    @inlinable @inline(__always)
    func returnFrameIfHeld() {
        if _slowPath(isBuiltAroundFrame) { returnFrame() }
    }

    @usableFromInline @inline(never)
    func returnFrame() {
        let origin = meta.pointee.frameOrigin
        var address = releaseFrame()
        if let origin { origin.pointee.recycle(origin.pointee.context, &address, 1) }
    }

    /// A bulk put's first step once `heads[0]` is found holding a frame: its frame and those of
    /// the heads after it go back, one `recycle` per run of one origin (64 frames at most).
    @usableFromInline @inline(never)
    static func returnFrames(_ heads: UnsafePointer<PacketHead>, count: Int) {
        var origin: UnsafePointer<FrameOrigin>?
        var n = 0
        for i in 0..<count where heads[i].isBuiltAroundFrame {
            let from = heads[i].meta.pointee.frameOrigin
            if let origin, from != origin || n == FrameOrigin.batch {
                origin.pointee.recycleScratch(count: n)
                n = 0
            }
            origin = from
            let address = heads[i].releaseFrame()
            if let from {
                from.pointee.scratch[n] = address
                n += 1
            }
        }
        origin?.pointee.recycleScratch(count: n)
    }
}
