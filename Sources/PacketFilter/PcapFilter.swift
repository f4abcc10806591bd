import PacketFormats
import CPcap

/// The `--filter` pre-check: a bad expression is a usage error (exit 2), found before any
/// interface is looked up or opened, with libpcap's own words for what is wrong.
public enum PcapFilter {
    /// nil when `expression` compiles for Ethernet at this snaplen, else libpcap's message.
    public static func check(_ expression: String, snaplen: Int) -> String? {
        var errbuf = [CChar](repeating: 0, count: 512)
        guard cpcap_check_filter(expression, Int32(clamping: snaplen), &errbuf, errbuf.count) != 0 else { return nil }
        return String(cText: errbuf)
    }
}

extension PcapFilter {
    /// `--filter` where the kernel does not run it (AF_XDP): libpcap's program for the
    /// expression, run by libpcap's interpreter on each frame as it is on the wire. Read-only
    /// once compiled, so one program serves every worker thread.
    public final class Program: @unchecked Sendable {
        private let filter: OpaquePointer

        /// nil with libpcap's message when the expression does not compile (`check` first for
        /// a usage error).
        public init?(_ expression: String, snaplen: Int, error: inout String) {
            var errbuf = [CChar](repeating: 0, count: 512)
            guard let f = cpcap_filter_compile(expression, Int32(clamping: snaplen), &errbuf, errbuf.count) else {
                error = String(cText: errbuf)
                return nil
            }
            filter = f
        }

        deinit { cpcap_filter_free(filter) }

        /// Whether the frame of `length` bytes at `data` (`wireLength` on the wire) matches.
        @inline(__always)
        public func matches(_ data: UnsafeRawPointer, length: UInt32, wireLength: UInt32) -> Bool {
            cpcap_filter_match(filter, data.assumingMemoryBound(to: UInt8.self), length, wireLength) != 0
        }
    }
}
