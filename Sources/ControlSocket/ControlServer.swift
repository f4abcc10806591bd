import Pipeline
import ProcessControl
#if canImport(Glibc)
import Glibc
#endif

/// Serves the control socket on a thread of its own: one poll() over the listener, a wake pipe
/// and every client. Each client costs a bounded amount whatever it does: its request line is
/// capped (`ControlRequest.maximumLength`), an answer is made a chunk at a time and only while
/// the client takes what was made (`Limits.outputBytes`), a client that says nothing or stops
/// reading is dropped after a timeout, and there are at most `Limits.clients` at once.
public final class ControlServer: @unchecked Sendable {
    public struct Limits: Sendable {
        /// Clients served at once; one more is told so and closed.
        public var clients = 16
        /// A connection with no complete request for this long is closed.
        public var idleSeconds = 10.0
        /// An answer the client takes nothing of for this long is abandoned with the connection.
        public var stallSeconds = 10.0
        /// More of an answer is made only when less than this is waiting to be sent.
        public var outputBytes = 64 * 1024
        public init() {}
    }

    /// Each client socket's send buffer: what a client that stops reading holds in the kernel,
    /// whatever the system's default (`net.core.wmem_default` may be megabytes).
    static let clientSendBuffer = 64 * 1024

    private let listener: ControlListener
    private let limits: Limits
    private let handler: @Sendable (ControlRequest) -> ControlAnswer
    private let wake = WakePipe()
    private var thread: JoinableThread?

    /// `handler` runs on the control thread, one request at a time.
    public init(listener: ControlListener, limits: Limits = Limits(), handler: @escaping @Sendable (ControlRequest) -> ControlAnswer) {
        self.listener = listener
        self.limits = limits
        self.handler = handler
    }

    public var path: String { listener.path }

    public func start() {
        precondition(thread == nil, "ControlServer started twice")
        thread = JoinableThread(name: "fwd control") { [self] in serve() }
    }

    /// Stops serving, closes every connection and removes the socket file.
    public func stop() {
        wake.ring()
        thread?.join()
        thread = nil
        listener.close()
        wake.close()
    }

    private final class Client {
        let fd: Int32
        var input: [UInt8] = []
        var output: [UInt8] = []
        var sent = 0
        var answer: (@Sendable () -> ControlAnswer.Chunk)?
        var answerLines = 0
        var readClosed = false
        var closeWhenSent = false
        /// When the client last gave a request or took output (monotonic ns).
        var lastProgress: UInt64

        init(fd: Int32, now: UInt64) {
            self.fd = fd
            lastProgress = now
        }

        var pending: Int { output.count - sent }
        var busy: Bool { answer != nil || pending > 0 }
    }

    private func serve() {
        var clients: [Client] = []
        defer { for c in clients { close(c.fd) } }
        var fds: [pollfd] = []
        while true {
            let now = monotonicNanoseconds()
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0))
            var nearest = UInt64.max
            for c in clients {
                var events = Int16(0)
                if !c.readClosed && !c.closeWhenSent { events |= Int16(POLLIN) }
                if c.pending > 0 { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: c.fd, events: events, revents: 0))
                nearest = min(nearest, c.lastProgress &+ nanoseconds(c.busy ? limits.stallSeconds : limits.idleSeconds))
                // A request that came behind the one just answered: at once.
                if !c.busy && c.input.contains(0x0A) { nearest = now }
            }
            let timeout = nearest == .max ? -1 : Int32(min(60_000, (nearest > now ? nearest - now : 0) / 1_000_000 + 1))
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 && errno != EINTR { return }
            if fds[0].revents != 0 { return }
            let after = monotonicNanoseconds()
            var keep: [Client] = []
            for (i, c) in clients.enumerated() {
                if step(c, revents: fds[i + 2].revents, now: after) { keep.append(c) } else { close(c.fd) }
            }
            clients = keep
            if fds[1].revents & Int16(POLLIN) != 0 { accept(into: &clients, now: after) }
        }
    }

    private func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }

    private func accept(into clients: inout [Client], now: UInt64) {
        while true {
            let fd = Glibc.accept(listener.descriptor, nil, nil)
            guard fd >= 0 else { return }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var size = Int32(ControlServer.clientSendBuffer)
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            guard clients.count < limits.clients else {
                let line = ControlAnswer.finalLine(lines: 0, error: "too many control clients (\(limits.clients)); try again") + "\n"
                _ = line.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
                close(fd)
                continue
            }
            clients.append(Client(fd: fd, now: now))
        }
    }

    /// Moves one client on; false when it is to be closed.
    private func step(_ c: Client, revents: Int16, now: UInt64) -> Bool {
        if revents & Int16(POLLERR | POLLNVAL) != 0 { return false }
        if revents & Int16(POLLIN | POLLHUP) != 0 && !c.readClosed && !c.closeWhenSent {
            guard receive(c) else { return false }
        }
        if !c.busy, !c.closeWhenSent { takeRequest(c, now: now) }
        fill(c)
        if c.pending > 0 {
            let n = c.output.withUnsafeBytes { send(c.fd, $0.baseAddress! + c.sent, c.pending, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n > 0 {
                c.sent += n
                c.lastProgress = now
                if c.sent == c.output.count {
                    c.output.removeAll(keepingCapacity: true)
                    c.sent = 0
                    fill(c)
                }
            } else if n < 0 && errno != EAGAIN && errno != EINTR {
                return false
            }
        }
        if c.busy { return now &- c.lastProgress < nanoseconds(limits.stallSeconds) }
        if c.closeWhenSent { return false }
        if c.readClosed { return c.input.contains(0x0A) }
        return now &- c.lastProgress < nanoseconds(limits.idleSeconds)
    }

    /// Reads what the client sent, never holding more than one request line and its newline.
    private func receive(_ c: Client) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while c.input.count <= ControlRequest.maximumLength {
            let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                c.input += buffer[0..<n]
                if buffer[0..<n].contains(0x0A) { return true }
                continue
            }
            if n == 0 { c.readClosed = true; return true }
            return errno == EAGAIN || errno == EINTR
        }
        return true
    }

    /// Starts answering the first complete line, or refuses a line that is too long.
    private func takeRequest(_ c: Client, now: UInt64) {
        guard let newline = c.input.firstIndex(of: 0x0A) else {
            if c.input.count > ControlRequest.maximumLength {
                c.output = Array((ControlAnswer.finalLine(lines: 0, error: "request longer than \(ControlRequest.maximumLength) bytes") + "\n").utf8)
                c.closeWhenSent = true
                c.input = []
            }
            return
        }
        var line = c.input[..<newline]
        if line.last == 0x0D { line = line.dropLast() }
        c.input.removeSubrange(...newline)
        c.lastProgress = now
        let answer: ControlAnswer
        do throws(ControlError) { answer = handler(try ControlRequest.parse(line)) } catch { answer = .failure(error.message) }
        c.answerLines = 0
        switch answer.body {
        case .chunks(let next): c.answer = next
        case .failure(let message): c.output += Array((ControlAnswer.finalLine(lines: 0, error: message) + "\n").utf8)
        }
    }

    /// Makes more of the answer while little of it waits to be sent; the final line at its end.
    private func fill(_ c: Client) {
        while let next = c.answer, c.pending < limits.outputBytes {
            switch next() {
            case .lines(let lines):
                for l in lines { c.output += Array(l.utf8); c.output.append(0x0A) }
                c.answerLines += lines.count
            case .end:
                c.output += Array((ControlAnswer.finalLine(lines: c.answerLines, error: nil) + "\n").utf8)
                c.answer = nil
            case .failed(let message):
                c.output += Array((ControlAnswer.finalLine(lines: c.answerLines, error: message) + "\n").utf8)
                c.answer = nil
            }
        }
    }
}
