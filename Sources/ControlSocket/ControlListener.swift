#if canImport(Glibc)
import Glibc
#endif

/// The listening control socket's file. A socket file left by a forwarder that was killed is
/// replaced; one that a running forwarder answers on is not (a second instance on the same
/// interfaces must fail, not steal the first one's socket). Anything at the path that is not a
/// socket is left alone.
public final class ControlListener: @unchecked Sendable {
    public let path: String
    let descriptor: Int32
    /// The inode bound, so that `close` removes this socket's file and never a successor's.
    private let inode: ino_t

    /// Binds and listens at `path`, mode 0660, group `group` when given (members may use
    /// `forwarder ctl`); creates the path's directory (mode 0755) when it is missing.
    public init(path: String, group: gid_t? = nil) throws(ControlError) {
        let address = try UnixSocketAddress(path)
        try ControlListener.removeStale(path, address)
        try ControlListener.makeDirectory(of: path)
        let fd = UnixSocketAddress.streamSocket(nonBlocking: true)
        guard fd >= 0 else { throw ControlError("control socket: socket(): \(errnoText())") }
        // The file is created by bind with the mode the umask leaves: no moment at which others may connect.
        let old = umask(0o117)
        let bound = address.withSockaddr { bind(fd, $0, $1) }
        let bindErrno = errno
        umask(old)
        guard bound == 0 else {
            Glibc.close(fd)
            throw ControlError("\(path): cannot create the control socket: \(errnoText(bindErrno))"
                + (bindErrno == EACCES ? " (run as root, or choose a writable --control path)" : ""))
        }
        var st = stat()
        guard lstat(path, &st) == 0, chmod(path, 0o660) == 0, group.map({ chown(path, uid_t.max, $0) == 0 }) ?? true else {
            let e = errno
            unlink(path)
            Glibc.close(fd)
            throw ControlError("\(path): cannot set the control socket's mode or group: \(errnoText(e))")
        }
        guard listen(fd, 16) == 0 else {
            let e = errno
            unlink(path)
            Glibc.close(fd)
            throw ControlError("\(path): listen(): \(errnoText(e))")
        }
        self.path = path
        descriptor = fd
        inode = st.st_ino
    }

    /// Closes the socket and removes its file, if it is still this socket's.
    public func close() {
        var st = stat()
        if lstat(path, &st) == 0, st.st_ino == inode { unlink(path) }
        Glibc.close(descriptor)
    }

    private static func removeStale(_ path: String, _ address: UnixSocketAddress) throws(ControlError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw ControlError("\(path) exists and is not a socket: remove it or choose another --control path")
        }
        let probe = UnixSocketAddress.streamSocket(nonBlocking: false)
        guard probe >= 0 else { throw ControlError("control socket: socket(): \(errnoText())") }
        let connected = address.withSockaddr { connect(probe, $0, $1) }
        let e = errno
        Glibc.close(probe)
        if connected == 0 || e == EAGAIN {
            throw ControlError("\(path): another forwarder is running and serving this control socket; stop it first, "
                + "or give this one another --name or --control", kind: .inUse)
        }
        guard e == ECONNREFUSED else { throw ControlError("\(path): cannot check the existing control socket: \(errnoText(e))") }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw ControlError("\(path): cannot remove the stale control socket: \(errnoText())")
        }
    }

    private static func makeDirectory(of path: String) throws(ControlError) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let directory = String(path[..<slash])
        var st = stat()
        if stat(directory, &st) == 0 { return }
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
            throw ControlError("\(directory): cannot create the control socket's directory: \(errnoText())")
        }
    }
}
