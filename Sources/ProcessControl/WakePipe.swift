#if canImport(Glibc)
import Glibc
#endif

/// A pipe that wakes a thread sleeping in poll(): `ring` writes a byte, the sleeper polls
/// `descriptor` and `drain`s it. Both ends non-blocking and close-on-exec: ringing never blocks
/// (a full pipe is already ringing), draining never waits, a child never inherits it.
public struct WakePipe: Sendable {
    public let descriptor: Int32
    private let writeEnd: Int32

    public init() {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe failed: \(String(cString: strerror(errno)))")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        (descriptor, writeEnd) = (fds[0], fds[1])
    }

    public func ring() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    public func drain() {
        var bytes = (UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &bytes, { read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
    }

    public func close() {
        _ = Glibc.close(descriptor)
        _ = Glibc.close(writeEnd)
    }
}
