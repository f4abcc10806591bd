import CLinux
import Glibc

/// One process as the XDP markers name it: its pid and its start time, so that a pid the kernel
/// reused for another process is not taken for the forwarder that attached a program.
public struct XdpProcess: Sendable, Equatable {
    public let pid: Int32
    public let start: UInt64

    public init(pid: Int32, start: UInt64) {
        self.pid = pid
        self.start = start
    }

    /// This process.
    public static var current: XdpProcess {
        let pid = getpid()
        return XdpProcess(pid: pid, start: UInt64(clinux_process_start(pid)))
    }

    /// Whether this process still runs: the pid is there and has the same start time.
    var isAlive: Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno == ESRCH { return false }
        let now = UInt64(clinux_process_start(pid))
        return now != 0 && now == start
    }
}
