#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// A started POSIX thread running a closure, named (top -H, ps -L and perf show the name) and
/// pinned to one CPU when given one (`--cpus`); `join` waits for it.
public struct JoinableThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    private let thread: pthread_t

    public init(name: String, cpu: Int? = nil, _ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Body({
            _ = clinux_set_thread_name(name)
            if let cpu { _ = clinux_pin_thread(Int32(cpu)) }
            body()
        })).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let body = Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        thread = t
    }

    public func join() { pthread_join(thread, nil) }

    /// Whether this process may run on `cpu` (its affinity mask allows it).
    public static func mayRun(on cpu: Int) -> Bool { clinux_cpu_allowed(Int32(cpu)) == 1 }

    /// CPUs online now (at least 1).
    public static var onlineCPUs: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}
