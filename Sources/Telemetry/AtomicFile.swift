#if canImport(Glibc)
import Glibc
#endif

/// A file replaced atomically: the text goes to a hidden temporary file in the same directory
/// (`.NAME.PID.tmp`, which node_exporter's `*.prom` glob skips), then is renamed over the path,
/// so a reader sees the old file or the new one, never part of one.
public struct AtomicFile {
    public let path: String
    private let temporary: String

    public init(path: String) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporary = directory + "." + name + ".\(getpid()).tmp"
    }

    /// Writes `text`; the error says what failed and why.
    public func write(_ text: String) throws(AtomicFile.WriteError) {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create \(temporary)") }
        var bytes = text
        let ok = bytes.withUTF8 { buffer -> Bool in
            var at = 0
            while at < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + at, buffer.count - at)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                at += n
            }
            return true
        }
        if !ok {
            let e = failure("cannot write \(temporary)")
            close(fd)
            unlink(temporary)
            throw e
        }
        guard close(fd) == 0 else {
            let e = failure("cannot write \(temporary)")
            unlink(temporary)
            throw e
        }
        guard rename(temporary, path) == 0 else {
            let e = failure("cannot rename \(temporary) to \(path)")
            unlink(temporary)
            throw e
        }
    }

    /// What failed (create, write or rename, with the path) and the system's reason.
    public struct WriteError: Error {
        public let message: String
    }

    private func failure(_ what: String) -> WriteError {
        WriteError(message: "\(what): \(String(cString: strerror(errno)))")
    }
}
