#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A started POSIX thread running a closure; `join` waits for it.
struct WorkerThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    private let thread: pthread_t

    init(_ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let body = Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        thread = t
    }

    func join() { pthread_join(thread, nil) }
}

/// Stopping: set by SIGINT/SIGTERM, by `--duration`, or by a worker that failed. The pipe's read
/// end stays readable once written, so every poll() that includes it wakes up at once.
enum StopControl {
    static let requested = Atomic<Bool>(false)
    static let signal = Atomic<Int32>(0)
    nonisolated(unsafe) static var pipe: (read: Int32, write: Int32) = (-1, -1)
    /// Set by SIGUSR1: print a snapshot of the summary. Its own pipe, which only the supervisor
    /// polls and drains (the stop pipe must stay readable for the workers).
    static let snapshotRequested = Atomic<Bool>(false)
    nonisolated(unsafe) static var snapshotPipe: (read: Int32, write: Int32) = (-1, -1)

    static func install() {
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
        Glibc.signal(SIGPIPE, SIG_IGN)
        for s in [SIGINT, SIGTERM] {
            Glibc.signal(s) { number in
                StopControl.signal.store(number, ordering: .relaxed)
                StopControl.request()
            }
        }
    }

    static func request() {
        requested.store(true, ordering: .releasing)
        var byte: UInt8 = 1
        _ = write(pipe.write, &byte, 1)
    }

    /// Why the workers were stopped, when no worker failed.
    static var reason: StopReason {
        switch signal.load(ordering: .relaxed) {
        case 0: .duration
        case let number: .signal(number)
        }
    }

    /// Waits until a stop is requested, a snapshot is asked for (SIGUSR1), or `seconds` pass;
    /// true when stopped.
    static func wait(seconds: Double) -> Bool {
        if requested.load(ordering: .acquiring) { return true }
        if snapshotRequested.load(ordering: .acquiring) { return false }
        var fds = (pollfd(fd: pipe.read, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: snapshotPipe.read, events: Int16(POLLIN), revents: 0))
        withUnsafeMutablePointer(to: &fds) { p in
            p.withMemoryRebound(to: pollfd.self, capacity: 2) {
                _ = poll($0, 2, Int32(max(1, min(seconds * 1000, 3_600_000))))
            }
        }
        return requested.load(ordering: .acquiring)
    }

    /// True once per SIGUSR1 (signals that come together may count once); drains its pipe.
    static func takeSnapshotRequest() -> Bool {
        guard snapshotRequested.exchange(false, ordering: .acquiringAndReleasing) else { return false }
        var buffer = (UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(snapshotPipe.read, $0.baseAddress, $0.count) }) > 0 {}
        return true
    }
}

/// What ended a run; the summary says it, the JSON as `stopped_by`.
enum StopReason: Equatable {
    case signal(Int32)
    /// `--duration` ran out.
    case duration
    /// A worker failed (exit status 1); the message names the interface.
    case error(String)
    /// Not stopped: a snapshot asked for with SIGUSR1 (`stopped_by` is `running`).
    case running
}
