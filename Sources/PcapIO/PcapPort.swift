import BufferCache
import CPcap
import Pipeline

/// The worker's view of one interface through libpcap: RX copies a burst out of the kernel
/// ring with one pcap_dispatch, TX sends a burst with one sendmmsg on the same socket, or, when
/// the handle has a TX ring (`CaptureOptions.txRing`), copies it into the ring's slots and
/// sends it with one send() (the contract of `send` is the same either way).
///
/// Each worker that receives or sends on an interface has its own `PcapPort` value for it: the
/// values share the `Handle`, which the runner keeps until every worker has stopped. The
/// per-burst scratch arrays belong to the value and are allocated once, in `init`, so the
/// per-frame path allocates nothing.
public struct PcapPort: PacketPort, ~Copyable {
    public let handle: Handle
    let capacity: Int
    private let buffers: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>
    private let constBuffers: UnsafeMutablePointer<UnsafePointer<UInt8>?>
    private let sizes: UnsafeMutablePointer<UInt32>
    private let lengths: UnsafeMutablePointer<UInt32>
    private let wireLengths: UnsafeMutablePointer<UInt32>
    private let errbuf: UnsafeMutablePointer<CChar>
    private static let errbufSize = 512

    /// A port on `handle` able to move bursts of up to `burst` frames.
    public init(handle: Handle, burst: Int) {
        self.handle = handle
        capacity = burst
        buffers = .allocate(capacity: burst)
        constBuffers = .allocate(capacity: burst)
        sizes = .allocate(capacity: burst)
        lengths = .allocate(capacity: burst)
        wireLengths = .allocate(capacity: burst)
        errbuf = .allocate(capacity: PcapPort.errbufSize)
        errbuf.initialize(to: 0)
    }

    deinit {
        buffers.deallocate()
        constBuffers.deallocate()
        sizes.deallocate()
        lengths.deallocate()
        wireLengths.deallocate()
        errbuf.deallocate()
    }

    public var pollDescriptor: Int32 { cpcap_fd(handle.port) }

    public mutating func receive(into heads: UnsafeMutablePointer<PacketHead>, count: Int) throws(PortError) -> Int {
        let n = min(count, capacity)
        for i in 0..<n {
            buffers[i] = heads[i].data.assumingMemoryBound(to: UInt8.self)
            sizes[i] = UInt32(truncatingIfNeeded: heads[i].tailroomLimit)
        }
        let got = cpcap_rx_burst(handle.port, Int32(n), buffers, sizes, lengths, wireLengths,
                                 errbuf, PcapPort.errbufSize)
        guard got >= 0 else { throw PortError("\(handle.name): receive failed: \(String(cString: errbuf))") }
        for i in 0..<Int(got) {
            let m = heads[i].meta
            m.pointee.length = lengths[i]
            m.pointee.wireLength = wireLengths[i]
        }
        return Int(got)
    }

    public mutating func send(_ heads: UnsafePointer<PacketHead>, count: Int) -> (sent: Int, errno: Int32) {
        let n = min(count, capacity)
        for i in 0..<n {
            constBuffers[i] = UnsafePointer(heads[i].data.assumingMemoryBound(to: UInt8.self))
            lengths[i] = UInt32(truncatingIfNeeded: heads[i].length)
        }
        var err: Int32 = 0
        let sent = cpcap_tx_burst(handle.port, Int32(n), constBuffers, lengths, &err)
        return (Int(max(sent, 0)), sent == n ? 0 : err)
    }
}
