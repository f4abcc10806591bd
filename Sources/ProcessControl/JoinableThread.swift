#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// A started POSIX thread running a closure, named (top -H, ps -L and perf show the name);
/// `join` waits for it.
public struct JoinableThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    private let thread: pthread_t

    public init(name: String, _ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Body({
            _ = clinux_set_thread_name(name)
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
}
