/// A head built around a frame it does not own, as `napi_build_skb` builds an skb around a
/// page fragment: an AF_XDP port receives into UMEM frames, and instead of copying a frame into
/// the head's buffer it points the head at the frame. The head still comes from its allocator
/// (cache or plain, on equal terms); its own buffer is kept aside and given back to it by
/// `releaseFrame` before the head can be put back or reused.
extension HeadMeta {
    /// `frameAddress` of a head that uses its own buffer.
    public static let noFrame = UInt64.max
}

extension PacketHead {
    /// True while the head's buffer is a frame it was built around.
    @inlinable
    public var isBuiltAroundFrame: Bool { meta.pointee.frameAddress != HeadMeta.noFrame }

    /// Points the head at `frame` (`capacity` bytes, its UMEM address `address`), the data
    /// `dataOffset` bytes into it: the bytes before are the headroom a VLAN push uses.
    @inlinable
    public func build(around frame: UnsafeMutableRawPointer, address: UInt64, capacity: UInt32, dataOffset: UInt32,
                      length: UInt32, wireLength: UInt32) {
        let m = meta
        assert(m.pointee.frameAddress == HeadMeta.noFrame, "the head already holds a frame")
        assert(dataOffset <= capacity && length <= capacity - dataOffset, "frame beyond its buffer")
        m.pointee.ownBuffer = m.pointee.buffer
        m.pointee.ownCapacity = m.pointee.capacity
        m.pointee.buffer = frame
        m.pointee.capacity = capacity
        m.pointee.frameAddress = address
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
        return address
    }
}
