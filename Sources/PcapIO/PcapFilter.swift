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
