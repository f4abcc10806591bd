import BufferCache
import CPcap
import Pipeline
#if canImport(Glibc)
import Glibc
#endif

/// Knobs for opening an interface (`--snaplen`, `--buffer-size`, `--filter`, ...).
public struct CaptureOptions: Sendable {
    public var snaplen = 2048
    public var bufferSize = 0
    public var filter: String?
    public var immediate = true
    public var promiscuous = true

    public init() {}
}

/// A libpcap handle on one interface, opened for input only (PCAP_D_IN), nonblocking, with
/// TX through one sendmmsg per burst on the same socket.
///
/// Each worker that receives or sends on an interface has its own `PcapPort` value for it: the
/// values share the handle (`Handle`), which is closed by the runner once every worker has
/// stopped. Per-burst scratch arrays belong to the value, so nothing is allocated per frame.
public struct PcapPort: PacketPort, ~Copyable {
    /// The shared libpcap handle; owned by the runner.
    public final class Handle: @unchecked Sendable {
        public let name: String
        let port: OpaquePointer

        public init(name: String, options: CaptureOptions) throws(PcapError) {
            self.name = name
            var errbuf = [CChar](repeating: 0, count: 512)
            var opts = cpcap_options(snaplen: Int32(options.snaplen), promisc: options.promiscuous ? 1 : 0,
                                     immediate: options.immediate ? 1 : 0, buffer_size: Int32(options.bufferSize),
                                     timeout_ms: 1, filter: nil)
            let opened: OpaquePointer? = options.filter.map { f in
                f.withCString { cf in
                    opts.filter = cf
                    return cpcap_open(name, &opts, &errbuf, errbuf.count)
                }
            } ?? cpcap_open(name, &opts, &errbuf, errbuf.count)
            guard let opened else {
                let text = String(cString: errbuf)
                if text.lowercased().contains("permission") || text.contains("not permitted") {
                    throw PcapError("\(name): permission denied: capturing needs root or CAP_NET_RAW "
                        + "(run with sudo, or: sudo setcap cap_net_raw,cap_net_admin+ep $(command -v forwarder)) [\(text)]")
                }
                throw PcapError("\(name): cannot open: \(text)")
            }
            port = opened
        }

        deinit { cpcap_close(port) }

        /// libpcap's kernel counters: frames seen, dropped by the ring, dropped by the interface.
        public func kernelStats() -> (received: UInt64, dropped: UInt64, interfaceDropped: UInt64)? {
            var r: UInt64 = 0, d: UInt64 = 0, i: UInt64 = 0
            var errbuf = [CChar](repeating: 0, count: 256)
            guard cpcap_stats(port, &r, &d, &i, &errbuf, errbuf.count) == 0 else { return nil }
            return (r, d, i)
        }
    }

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
        let got = cpcap_rx_burst(handle.port, Int32(n), buffers, sizes, lengths, wireLengths, nil,
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
