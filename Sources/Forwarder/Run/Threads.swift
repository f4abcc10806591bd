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

    static func install() {
        var fds: (Int32, Int32) = (0, 0)
        withUnsafeMutablePointer(to: &fds) { p in
            p.withMemoryRebound(to: Int32.self, capacity: 2) { _ = Glibc.pipe($0) }
        }
        pipe = (fds.0, fds.1)
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

    /// Waits until a stop is requested or `seconds` pass; true when stopped.
    static func wait(seconds: Double) -> Bool {
        if requested.load(ordering: .acquiring) { return true }
        var fd = pollfd(fd: pipe.read, events: Int16(POLLIN), revents: 0)
        _ = poll(&fd, 1, Int32(max(1, min(seconds * 1000, 3_600_000))))
        return requested.load(ordering: .acquiring)
    }
}

/// What ended a run; the summary says it, the JSON as `stopped_by`.
enum StopReason: Equatable {
    case signal(Int32)
    /// `--duration` ran out.
    case duration
    /// A worker failed (exit status 1); the message names the interface.
    case error(String)
}
