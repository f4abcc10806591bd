import CPcap

/// A BPF filter expression checked without opening a device (libpcap's `pcap_open_dead`), so a
/// bad expression is a usage error reported before any interface is touched.
public enum PcapFilter {
    /// nil when `expression` compiles for Ethernet, else libpcap's message.
    public static func check(_ expression: String, snaplen: Int) -> String? {
        var errbuf = [CChar](repeating: 0, count: 512)
        guard cpcap_check_filter(expression, Int32(snaplen), &errbuf, errbuf.count) != 0 else { return nil }
        return String(decoding: errbuf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
