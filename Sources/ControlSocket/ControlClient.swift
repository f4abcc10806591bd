#if canImport(Glibc)
import Glibc
#endif

/// `forwarder ctl`'s side of the protocol: one request, its data lines as they arrive, and the
/// final line's verdict. Every failure names the socket and what to do.
public enum ControlClient {
    /// How a request ended: the answer's data lines were passed on; `error` is the forwarder's
    /// refusal, nil on success.
    public struct Outcome: Equatable, Sendable {
        public let lines: Int
        public let error: String?
    }

    /// Sends `request` to the forwarder at `path` and passes each data line to `line`, waiting
    /// at most `timeout` seconds for each piece of the answer.
    public static func send(_ request: ControlRequest, to path: String, timeout: Double = 30,
                            line: (String) -> Void) throws(ControlError) -> Outcome {
        let address = try UnixSocketAddress(path)
        let fd = UnixSocketAddress.streamSocket(nonBlocking: false)
        guard fd >= 0 else { throw ControlError("socket(): \(errnoText())") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard address.withSockaddr({ connect(fd, $0, $1) }) == 0 else { throw unreachable(path, errno) }
        let text = Array((request.line + "\n").utf8)
        var written = 0
        while written < text.count {
            let n = text.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + written, text.count - written, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else {
                if n < 0 && errno == EINTR { continue }
                throw ControlError("\(path): sending the request failed: \(errnoText())")
            }
            written += n
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            while let newline = pending.firstIndex(of: 0x0A) {
                let text = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if let outcome = try final(text) { return outcome }
                line(text)
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { pending += buffer[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw ControlError("\(path): the forwarder did not answer within \(Int(timeout)) s")
            }
            throw ControlError("\(path): the forwarder closed the connection before the end of its answer")
        }
    }

    /// The final line (`{"ok":...}`) as an outcome; nil for a data line.
    private static func final(_ text: String) throws(ControlError) -> Outcome? {
        guard text.hasPrefix("{\"ok\":") else { return nil }
        let fields: [String: FlatJSON.Value]
        do { fields = try FlatJSON.parse(Array(text.utf8)) } catch { throw ControlError("unreadable answer: \(error.message)") }
        guard case .bool(let ok)? = fields["ok"] else { throw ControlError("unreadable answer: \(text)") }
        if ok {
            guard case .number(let n)? = fields["lines"] else { return Outcome(lines: 0, error: nil) }
            return Outcome(lines: Int(n), error: nil)
        }
        guard case .string(let message)? = fields["error"] else { return Outcome(lines: 0, error: "the forwarder refused the request") }
        return Outcome(lines: 0, error: message)
    }

    private static func unreachable(_ path: String, _ code: Int32) -> ControlError {
        switch code {
        case ENOENT:
            ControlError("\(path): no control socket here: is the forwarder running? (name it with --name, "
                + "or give its --control path)")
        case ECONNREFUSED:
            ControlError("\(path): nothing answers on this control socket: the forwarder that made it has stopped")
        case EACCES, EPERM:
            ControlError("\(path): permission denied: run as root, or as a member of the forwarder's --group")
        default:
            ControlError("\(path): cannot connect: \(errnoText(code))")
        }
    }
}
