import CLinux
import Glibc
import ProcessControl

/// A privileged child that detaches the forwarder's XDP programs when the forwarder is done.
/// libxdp leaves its program attached when the sockets close, and detaching needs CAP_NET_ADMIN
/// and CAP_BPF: a forwarder that dropped them (`--user`) cannot, and one killed by SIGKILL gets
/// no chance to. So before any socket opens and before the drop, the forwarder starts its own
/// binary with `argument` first; the guard blocks on a pipe whose only write end the forwarder
/// holds, and at EOF (the forwarder closed it at its stop, or died) it detaches on each
/// interface the program whose marker names the forwarder, nothing else, and exits.
public final class XdpReleaseGuard {
    /// The hidden first argument that makes the forwarder's binary a guard (never in --help).
    public static let argument = "--xdp-release-guard"
    /// The guard's end of the pipe.
    static let descriptor: Int32 = 3

    public let pid: pid_t
    private let interfaces: [String]
    private var pipe: Int32
    private var reaped = false

    /// Starts the guard for this process's programs on `interfaces`.
    public init(interfaces: (String, String)) throws(XdpError) {
        self.interfaces = [interfaces.0, interfaces.1]
        let me = XdpProcess.current
        let argv = [CommandLine.arguments.first ?? "forwarder", XdpReleaseGuard.argument, String(me.pid), String(me.start),
                    interfaces.0, interfaces.1]
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var child: Int32 = 0, write: Int32 = -1
        let r = clinux_spawn_watcher(&cArgs, XdpReleaseGuard.descriptor, &child, &write)
        guard r == 0 else {
            throw XdpError(interfaces.0, .other,
                           detail: "cannot start the XDP release guard (/proc/self/exe): \(String(cString: strerror(r))); "
                               + "it detaches the XDP programs when the forwarder exits")
        }
        pid = child
        pipe = write
    }

    /// Closes the pipe, so the guard detaches now (the sockets must be closed by then), and
    /// waits up to `timeout` seconds for it to exit. nil, or what went wrong (the guard's own
    /// line on stderr names the interface it failed on). Safe to call twice.
    public func finish(timeout: Double = 2) -> String? {
        if pipe >= 0 {
            close(pipe)
            pipe = -1
        }
        guard !reaped else { return nil }
        let names = interfaces.joined(separator: " and ")
        var status: Int32 = 0
        for _ in 0..<max(1, Int(timeout * 200)) {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                reaped = true
                if status & 0x7f != 0 {
                    return "the XDP release guard (pid \(pid)) was killed by signal \(status & 0x7f): an XDP program on \(names) "
                        + "that this process could not detach stays attached until the next start removes it"
                }
                let code = (status >> 8) & 0xff
                return code == 0 ? nil : "the XDP release guard (pid \(pid)) exited with status \(code)"
            }
            // ECHILD: SIGCHLD was inherited ignored, so the kernel reaped the guard as it exited;
            // its own line on stderr says whether it failed.
            if r < 0 && errno == ECHILD {
                reaped = true
                return nil
            }
            if r < 0 && errno != EINTR {
                reaped = true
                return "the XDP release guard (pid \(pid)): waitpid: \(String(cString: strerror(errno)))"
            }
            usleep(5000)
        }
        return "the XDP release guard (pid \(pid)) did not finish within \(timeout) s: the XDP programs on \(names) "
            + "may stay attached a moment longer (ip link show dev \(interfaces[0]))"
    }

    /// The guard's side, `arguments` being what follows `argument`: owner pid, owner start
    /// time, the two interfaces. Ignores the stop signals (a Ctrl-C hits the whole process
    /// group: the forwarder stops on it, the guard must wait for it), blocks until EOF, then
    /// releases. Returns one (interface, message) per interface it failed on; empty is success.
    public static func serve(_ arguments: [String]) -> [(interface: String?, message: String)] {
        guard arguments.count == 4, let pid = Int32(arguments[0]), let start = UInt64(arguments[1]) else {
            return [(nil, "\(argument) is the forwarder's own helper: it takes OWNER-PID OWNER-START IN OUT")]
        }
        var stops = sigset_t()
        sigemptyset(&stops)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] {
            signal(s, SIG_IGN)
            sigaddset(&stops, s)
        }
        sigprocmask(SIG_UNBLOCK, &stops, nil)
        // Root's whole capability set is more than detaching needs: the netlink detach takes
        // CAP_NET_ADMIN, libxdp's look-up of its program by id CAP_BPF and CAP_SYS_ADMIN. A guard
        // left with more is still a guard: a failed step is no reason to stop.
        try? Privileges.limit(keeping: [.netAdmin, .bpf, .sysAdmin])
        var buffer = (UInt64(0), UInt64(0))
        while true {
            let n = withUnsafeMutableBytes(of: &buffer) { read(descriptor, $0.baseAddress, $0.count) }
            if n > 0 || (n < 0 && errno == EINTR) { continue }
            if n < 0 {
                return [(nil, "\(argument): reading its pipe: \(String(cString: strerror(errno))) (the forwarder starts it)")]
            }
            break
        }
        close(descriptor)
        let owner = XdpProcess(pid: pid, start: start)
        return arguments[2...].compactMap { name in
            XdpInterface.release(name, owner: owner).map {
                (name, "\(name): the XDP release guard of forwarder pid \(pid): \($0); remove it: ip link set dev \(name) xdp off")
            }
        }
    }
}
