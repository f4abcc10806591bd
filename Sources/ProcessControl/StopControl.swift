#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Stopping: set by SIGINT/SIGTERM, by `--duration`, or by a worker that failed. The pipe's read
/// end stays readable once written, so every poll() that includes it wakes up at once.
public enum StopControl {
    public static let requested = Atomic<Bool>(false)
    public static let signal = Atomic<Int32>(0)
    nonisolated(unsafe) public static var pipe: (read: Int32, write: Int32) = (-1, -1)
    /// Set by SIGUSR1: print a snapshot of the summary. Its own pipe, which only the supervisor
    /// polls and drains (the stop pipe must stay readable for the workers).
    public static let snapshotRequested = Atomic<Bool>(false)
    nonisolated(unsafe) public static var snapshotPipe: (read: Int32, write: Int32) = (-1, -1)
    /// Set by SIGHUP (a reload request; wakes the supervisor through the snapshot pipe). Without
    /// a handler SIGHUP would end the process with no summary.
    public static let hangupRequested = Atomic<Bool>(false)

    public static func install() {
        var fds: (Int32, Int32) = (0, 0)
        withUnsafeMutablePointer(to: &fds) { p in
            p.withMemoryRebound(to: Int32.self, capacity: 2) { _ = Glibc.pipe($0) }
        }
        pipe = (fds.0, fds.1)
        withUnsafeMutablePointer(to: &fds) { p in
            p.withMemoryRebound(to: Int32.self, capacity: 2) { _ = Glibc.pipe($0) }
        }
        snapshotPipe = (fds.0, fds.1)
        // Never block: not the handler on a full pipe, not the drain on an empty one.
        for fd in [fds.0, fds.1] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        Glibc.signal(SIGUSR1) { _ in
            StopControl.snapshotRequested.store(true, ordering: .releasing)
            var byte: UInt8 = 1
            _ = write(StopControl.snapshotPipe.write, &byte, 1)
        }
        Glibc.signal(SIGHUP) { _ in
            StopControl.hangupRequested.store(true, ordering: .releasing)
            var byte: UInt8 = 1
            _ = write(StopControl.snapshotPipe.write, &byte, 1)
        }
        Glibc.signal(SIGPIPE, SIG_IGN)
        for s in [SIGINT, SIGTERM] {
            Glibc.signal(s) { number in
                StopControl.signal.store(number, ordering: .relaxed)
                StopControl.request()
            }
        }
    }

    public static func request() {
        requested.store(true, ordering: .releasing)
        var byte: UInt8 = 1
        _ = write(pipe.write, &byte, 1)
    }

    /// The signal that asked for the stop (SIGINT, SIGTERM), nil when none did.
    public static var stopSignal: Int32? {
        let number = signal.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    /// Waits until a stop is requested, a snapshot is asked for (SIGUSR1), or `seconds` pass;
    /// true when stopped.
    public static func wait(seconds: Double) -> Bool {
        if requested.load(ordering: .acquiring) { return true }
        if snapshotRequested.load(ordering: .acquiring) || hangupRequested.load(ordering: .acquiring) { return false }
        var fds = (pollfd(fd: pipe.read, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: snapshotPipe.read, events: Int16(POLLIN), revents: 0))
        withUnsafeMutablePointer(to: &fds) { p in
            p.withMemoryRebound(to: pollfd.self, capacity: 2) {
                _ = poll($0, 2, Int32(max(1, min(seconds * 1000, 3_600_000))))
            }
        }
        return requested.load(ordering: .acquiring)
    }

    /// True once per SIGHUP (signals that come together may count once); drains the pipe.
    public static func takeHangup() -> Bool {
        guard hangupRequested.exchange(false, ordering: .acquiringAndReleasing) else { return false }
        drainSnapshotPipe()
        return true
    }

    /// True once per SIGUSR1 (signals that come together may count once); drains its pipe.
    public static func takeSnapshotRequest() -> Bool {
        guard snapshotRequested.exchange(false, ordering: .acquiringAndReleasing) else { return false }
        drainSnapshotPipe()
        return true
    }

    private static func drainSnapshotPipe() {
        var buffer = (UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(snapshotPipe.read, $0.baseAddress, $0.count) }) > 0 {}
    }
}
