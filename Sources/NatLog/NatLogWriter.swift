import Nat44
import ProcessControl
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `--nat-log FILE|syslog`: a thread of its own drains the workers' event lanes every
/// `interval` and writes the lines in one write(2) per round, so a worker only ever pushes to
/// a ring. `reopen()` (reload, logrotate's postrotate) makes the next round write to a new file
/// at the same path.
public final class NatLogWriter: @unchecked Sendable {
    public enum Destination: Equatable, Sendable {
        case file(String)
        /// The local syslog socket (a datagram per event).
        case syslog(path: String)

        /// `syslog` or a file path, as `--nat-log` takes it.
        public init(_ text: String) { self = text == "syslog" ? .syslog(path: "/dev/log") : .file(text) }
    }

    public let destination: Destination
    /// The destination as the reports name it: the path, or `syslog`.
    public var name: String { if case .file(let path) = destination { path } else { "syslog" } }
    /// One per worker, in worker order.
    public let lanes: [NatEventLane]
    private let interval: Double
    private var fd: Int32
    private let wake: (read: Int32, write: Int32)
    private let reopenRequested = Atomic<Bool>(false)
    private let writtenCount = Atomic<UInt64>(0)
    private let failedCount = Atomic<UInt64>(0)
    private let problemBox = PthreadLocked<String?>(nil)
    private var thread: JoinableThread?
    private let host: String

    /// Opens the destination now, so that a path that cannot be written is an error at the start.
    public init(destination: Destination, lanes: [NatEventLane], interval: Double = 0.1) throws(NatLogError) {
        self.destination = destination
        self.lanes = lanes
        self.interval = interval
        fd = try NatLogWriter.open(destination)
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw NatLogError("--nat-log: pipe(): \(String(cString: strerror(errno)))") }
        for f in fds { _ = fcntl(f, F_SETFL, fcntl(f, F_GETFL) | O_NONBLOCK) }
        wake = (fds[0], fds[1])
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        host = String(cString: name)
    }

    /// A lane per worker, then as `init(destination:lanes:)`.
    public convenience init(destination: Destination, workers: Int) throws(NatLogError) {
        try self.init(destination: destination, lanes: (0..<workers).map { _ in NatEventLane() })
    }

    public func start() {
        thread = JoinableThread(name: "fwd natlog") { [self] in run() }
    }

    /// Writes what the lanes hold and closes the destination.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        thread?.join()
        thread = nil
        close(wake.read)
        close(wake.write)
        close(fd)
    }

    /// The next round reopens the destination (a rotated file is recreated at its path).
    public func reopen() { reopenRequested.store(true, ordering: .releasing) }

    /// Lines written.
    public var written: UInt64 { writtenCount.load(ordering: .relaxed) }
    /// Events lost: to full lanes, and to writes that failed.
    public var dropped: UInt64 { lanes.reduce(0) { $0 + $1.dropped } + failedCount.load(ordering: .relaxed) }
    /// The last write or reopen failure, once (for a warning), nil when there was none since.
    public func takeProblem() -> String? { problemBox.withLock { p in defer { p = nil }; return p } }

    private func run() {
        let batch = UnsafeMutablePointer<NatEvent>.allocate(capacity: 256)
        defer { batch.deallocate() }
        var stopping = false
        while true {
            var pfd = pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)
            if !stopping && poll(&pfd, 1, Int32(interval * 1000)) > 0 { stopping = true }
            if reopenRequested.exchange(false, ordering: .acquiringAndReleasing) { reopenNow() }
            let offset = NatLogLine.wallOffset()
            for lane in lanes {
                while true {
                    let n = lane.drain(into: batch, count: 256)
                    if n == 0 { break }
                    emit(UnsafeBufferPointer(start: batch, count: n), wallOffset: offset)
                }
            }
            if stopping { return }
        }
    }

    private func emit(_ events: UnsafeBufferPointer<NatEvent>, wallOffset: Int64) {
        switch destination {
        case .file:
            var text = ""
            for e in events { text += NatLogLine.json(e, wallOffset: wallOffset) + "\n" }
            if writeAll(text) { writtenCount.add(UInt64(events.count), ordering: .relaxed) }
            else { failed(events.count, "cannot write: \(String(cString: strerror(errno)))") }
        case .syslog:
            let pid = getpid()
            for e in events {
                var line = NatLogLine.syslog(e, wallOffset: wallOffset, host: host, pid: pid)
                let n = line.withUTF8 { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                if n > 0 { writtenCount.add(1, ordering: .relaxed) } else { failed(1, "syslog: \(String(cString: strerror(errno)))") }
            }
        }
    }

    private func writeAll(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { buffer in
            var at = 0
            while at < buffer.count {
                let n = write(fd, buffer.baseAddress! + at, buffer.count - at)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                at += n
            }
            return true
        }
    }

    private func failed(_ count: Int, _ problem: String) {
        failedCount.add(UInt64(count), ordering: .relaxed)
        let where_ = if case .file(let path) = destination { path } else { "syslog" }
        problemBox.withLock { $0 = "--nat-log \(where_): \(problem)" }
    }

    private func reopenNow() {
        do throws(NatLogError) {
            let fresh = try NatLogWriter.open(destination)
            close(fd)
            fd = fresh
        } catch {
            problemBox.withLock { $0 = error.message + " (still writing to the file opened before)" }
        }
    }

    private static func open(_ destination: Destination) throws(NatLogError) -> Int32 {
        switch destination {
        case .file(let path):
            let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw NatLogError("--nat-log \(path): cannot open: \(String(cString: strerror(errno)))") }
            return fd
        case .syslog(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw NatLogError("--nat-log syslog: socket(): \(String(cString: strerror(errno)))") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                close(fd)
                throw NatLogError("--nat-log syslog: \(path): path too long")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else {
                let e = errno
                close(fd)
                throw NatLogError("--nat-log syslog: cannot reach the syslog socket \(path): \(String(cString: strerror(e))) "
                    + "(is a syslog daemon or journald running?)")
            }
            return fd
        }
    }
}

/// Why the NAT log cannot be written, naming the destination.
public struct NatLogError: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
