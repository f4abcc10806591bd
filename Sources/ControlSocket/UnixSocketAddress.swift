#if canImport(Glibc)
import Glibc
#endif

/// A filesystem path as a `sockaddr_un`, checked to fit (108 bytes with its terminating zero).
struct UnixSocketAddress {
    private var storage = sockaddr_un()

    init(_ path: String) throws(ControlError) {
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw ControlError("\(path): a control socket path must be 1 to \(capacity - 1) bytes long")
        }
        guard !bytes.contains(0) else { throw ControlError("\(path): the path holds a NUL byte") }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
    }

    /// Runs `body` with the address as the sockets API takes it.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }

    /// A new stream socket, close-on-exec; non-blocking when asked.
    static func streamSocket(nonBlocking: Bool) -> Int32 {
        socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0), 0)
    }
}

/// The text of the current `errno`.
func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
