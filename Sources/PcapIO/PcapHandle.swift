import PacketFormats
import CPcap

extension PcapPort {
    /// One open libpcap handle, shared by every worker's `PcapPort` on that interface and
    /// closed when the last of them (and the runner) lets go: a port value per worker keeps
    /// scratch arrays apart, but the kernel socket and its ring are one per interface.
    public final class Handle: @unchecked Sendable {
        public let name: String
        let port: OpaquePointer

        /// Opens `name` for input only (PCAP_D_IN), nonblocking, with `options`; the error's kind
        /// says why it failed (permission, missing or down interface, not Ethernet, filter).
        public init(name: String, options: CaptureOptions) throws(PcapError) {
            self.name = name
            var errbuf = [CChar](repeating: 0, count: 512)
            var opts = cpcap_options(snaplen: Int32(clamping: options.snaplen), promisc: options.promiscuous ? 1 : 0,
                                     immediate: options.immediate ? 1 : 0,
                                     buffer_size: Int32(clamping: options.bufferSize), timeout_ms: 1, filter: nil)
            var opened: OpaquePointer?
            let status = withOptionalCString(options.filter) { filter in
                opts.filter = filter
                return cpcap_open(name, &opts, &opened, &errbuf, errbuf.count)
            }
            guard status == .CPCAP_OK, let opened else {
                throw PcapError(opening: name, status: status, detail: String(cText: errbuf))
            }
            port = opened
        }

        deinit { cpcap_close(port) }

        /// libpcap's kernel counters: frames seen, dropped by the ring, dropped by the interface.
        /// nil when libpcap cannot read them (the summary then leaves the line out).
        public func kernelStats() -> (received: UInt64, dropped: UInt64, interfaceDropped: UInt64)? {
            var r: UInt64 = 0, d: UInt64 = 0, i: UInt64 = 0
            guard cpcap_stats(port, &r, &d, &i, nil, 0) == 0 else { return nil }
            return (r, d, i)
        }
    }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
