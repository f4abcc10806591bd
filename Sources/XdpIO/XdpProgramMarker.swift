import Glibc

/// Which XDP program a forwarder attached to an interface, in a file of its own
/// (/run/forwarder/xdp/<netns inode>-<ifindex>: "pid start-time program-id"), so that the next
/// start can tell a crashed run's leftover (its process is gone) from another user's program.
struct XdpProgramMarker: Equatable {
    let owner: XdpProcess
    let program: UInt32

    static let directory = "/run/forwarder/xdp"

    /// This network namespace's part of the file names: an interface index is per namespace.
    private static var namespacePrefix: String? {
        var st = stat()
        return stat("/proc/self/ns/net", &st) == 0 ? "\(st.st_ino)-" : nil
    }

    private static func path(_ ifindex: Int32) -> String { "\(directory)/\(namespacePrefix ?? "0-")\(ifindex)" }

    /// The marker of `ifindex`, nil when there is none or it is unreadable.
    static func read(_ ifindex: Int32) -> XdpProgramMarker? {
        let fd = open(path(ifindex), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = Glibc.read(fd, &buffer, buffer.count - 1)
        close(fd)
        guard n > 0 else { return nil }
        let fields = String(decoding: buffer[..<n], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 3, let pid = Int32(fields[0]), let start = UInt64(fields[1]), let program = UInt32(fields[2])
        else { return nil }
        return XdpProgramMarker(owner: XdpProcess(pid: pid, start: start), program: program)
    }

    /// Written beside and renamed into place, so that a reader never sees half a marker. Fails
    /// quietly when /run/forwarder is not ours to write (not root): `XdpProgramOwner` also
    /// remembers what this process attached.
    static func write(_ ifindex: Int32, program: UInt32) {
        let target = path(ifindex), me = XdpProcess.current
        mkdir("/run/forwarder", 0o755)
        mkdir(directory, 0o755)
        let temporary = "\(target).\(me.pid)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let line = Array("\(me.pid) \(me.start) \(program)\n".utf8)
        let written = Glibc.write(fd, line, line.count)
        close(fd)
        if written == line.count { rename(temporary, target) } else { unlink(temporary) }
    }

    static func remove(_ ifindex: Int32) { unlink(path(ifindex)) }

    /// The interfaces of this namespace that have a marker (temporary files left out).
    static func markedInterfaces() -> [Int32] {
        guard let prefix = namespacePrefix, let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            guard name.hasPrefix(prefix), !name.contains("."), let index = Int32(name.dropFirst(prefix.count)), index > 0
            else { continue }
            found.append(index)
        }
        return found
    }
}
