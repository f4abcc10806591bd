import Nat44
import PacketFormats
import Telemetry
#if canImport(Glibc)
import Glibc
#endif

/// How one NAT event is written: a JSON object per line in a file, or an RFC 5424 message to
/// the local syslog socket (structured data under the documentation enterprise number 32473,
/// RFC 5612, so that collectors can parse it without a private registration).
public enum NatLogLine {
    /// `{"time":"2026-12-08T02:20:01.123Z","event":"create","protocol":"udp","inside":
    /// "192.168.10.2:5000","outside":"203.0.113.1:40001","remote":"198.51.100.7:53",
    /// "reason":"outbound","worker":0}`; `remote` is left out when unknown.
    public static func json(_ e: NatEvent, wallOffset: Int64) -> String {
        var o = JSONObject()
        o.add("time", timestamp(e.time, wallOffset: wallOffset))
        for (key, value) in fields(e) { o.add(key, value) }
        o.add("worker", Int(e.worker))
        return o.text
    }

    /// `<30>1 TIME HOST forwarder PID nat-create [nat@32473 protocol="udp" ...] create udp
    /// INSIDE OUTSIDE` (facility daemon, severity info).
    public static func syslog(_ e: NatEvent, wallOffset: Int64, host: String, pid: Int32) -> String {
        let f = fields(e)
        let data = f.filter { $0.0 != "event" }.map { "\($0.0)=\"\(paramEscaped($0.1))\"" }.joined(separator: " ")
        let event = e.kind == .created ? "create" : "delete"
        return "<30>1 \(timestamp(e.time, wallOffset: wallOffset)) \(host.isEmpty ? "-" : host) forwarder \(pid) nat-\(event) "
            + "[nat@32473 \(data) worker=\"\(e.worker)\"] \(event) \(e.proto) \(endpoint(e.insideAddress, e.insidePort)) "
            + endpoint(e.outsideAddress, e.outsidePort)
    }

    private static func fields(_ e: NatEvent) -> [(String, String)] {
        var f = [("event", e.kind == .created ? "create" : "delete"), ("protocol", e.proto.description),
                 ("inside", endpoint(e.insideAddress, e.insidePort)), ("outside", endpoint(e.outsideAddress, e.outsidePort))]
        if e.remoteAddress != 0 { f.append(("remote", endpoint(e.remoteAddress, e.remotePort))) }
        f.append(("reason", e.reason.description))
        return f
    }

    private static func endpoint(_ address: UInt32, _ port: UInt16) -> String { "\(IPv4Address(address)):\(port)" }

    /// RFC 5424 PARAM-VALUE: '"', '\' and ']' escaped.
    private static func paramEscaped(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "\"" || c == "\\" || c == "]" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// RFC 3339 UTC with milliseconds, from a monotonic time and the wall clock's offset to it.
    public static func timestamp(_ monotonic: UInt64, wallOffset: Int64) -> String {
        let wall = Int64(bitPattern: monotonic) &+ wallOffset
        var seconds = time_t(wall / 1_000_000_000)
        let millis = Int((wall % 1_000_000_000) / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }

    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, in nanoseconds, now.
    public static func wallOffset() -> Int64 {
        var real = timespec(), mono = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return (Int64(real.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(mono.tv_nsec)
    }
}
