import BufferCache

/// The per-burst arrays `PcapPort` hands the shim: buffer pointers, their sizes, and the lengths
/// the shim reports back, allocated once for bursts of up to `capacity` (the per-frame path
/// allocates nothing), plus an error text buffer. Inlined into the port: no call per burst
/// leaves the module.
struct BurstVectors: ~Copyable {
    let capacity: Int
    let buffers: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>
    let constBuffers: UnsafeMutablePointer<UnsafePointer<UInt8>?>
    let sizes: UnsafeMutablePointer<UInt32>
    let lengths: UnsafeMutablePointer<UInt32>
    let wireLengths: UnsafeMutablePointer<UInt32>
    let errorText: UnsafeMutablePointer<CChar>
    let errorTextSize: Int

    init(capacity: Int, errorTextSize: Int = 512) {
        self.capacity = capacity
        buffers = .allocate(capacity: capacity)
        constBuffers = .allocate(capacity: capacity)
        sizes = .allocate(capacity: capacity)
        lengths = .allocate(capacity: capacity)
        wireLengths = .allocate(capacity: capacity)
        self.errorTextSize = errorTextSize
        errorText = .allocate(capacity: errorTextSize)
        errorText.initialize(to: 0)
    }

    deinit {
        buffers.deallocate()
        constBuffers.deallocate()
        sizes.deallocate()
        lengths.deallocate()
        wireLengths.deallocate()
        errorText.deallocate()
    }

    /// Points the receive vectors at the first `min(count, capacity)` heads' buffers, each
    /// taking at most `limit` bytes (and never more than the head has room for); returns how many.
    @inline(__always)
    func prepareReceive(_ heads: UnsafeMutablePointer<PacketHead>, count: Int, limit: UInt32 = .max) -> Int {
        let n = min(count, capacity)
        for i in 0..<n {
            buffers[i] = heads[i].data.assumingMemoryBound(to: UInt8.self)
            sizes[i] = min(UInt32(truncatingIfNeeded: heads[i].tailroomLimit), limit)
        }
        return n
    }

    /// Sets the first `received` heads' lengths from what the shim reported.
    @inline(__always)
    func finishReceive(_ heads: UnsafeMutablePointer<PacketHead>, received: Int) {
        for i in 0..<received {
            let m = heads[i].meta
            m.pointee.length = lengths[i]
            m.pointee.wireLength = wireLengths[i]
        }
    }

    /// Points the send vectors at the first `min(count, capacity)` heads' frames; returns how many.
    @inline(__always)
    func prepareSend(_ heads: UnsafePointer<PacketHead>, count: Int) -> Int {
        let n = min(count, capacity)
        for i in 0..<n {
            constBuffers[i] = UnsafePointer(heads[i].data.assumingMemoryBound(to: UInt8.self))
            lengths[i] = UInt32(truncatingIfNeeded: heads[i].length)
        }
        return n
    }

    /// The shim's error text.
    var error: String { String(cString: errorText) }
}
