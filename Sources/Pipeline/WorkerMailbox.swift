import ProcessControl
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How another thread (the control socket's) reaches a worker's processor: the worker owns its
/// tables and no lock guards them, so a job is posted here and the worker runs it between two
/// bursts, on its own thread. Checking costs the worker one atomic load per step; a sleeping
/// worker is woken by the doorbell, a descriptor in its poll set.
///
/// A job that the worker has not taken when the poster stops waiting is withdrawn; one it has
/// taken is waited for (it runs between bursts and is short). What the job produces belongs to
/// the closure's captures, so nothing is left pointing at the poster's stack.
public final class WorkerMailbox<P: ~Copyable>: @unchecked Sendable {
    private enum State: Int { case idle, posted, taken, done }

    private let state = Atomic<Int>(State.idle.rawValue)
    /// Written by the poster before `posted`, read by the worker after it: ordered by `state`.
    private var job: ((inout P) -> Void)?
    private let doorbell = WakePipe()
    /// Posters take turns: one job at a time.
    private let posters = PthreadLocked(())

    public init() {}

    deinit { doorbell.close() }

    /// Readable while a job is posted: the worker polls it with its sockets.
    public var descriptor: Int32 { doorbell.descriptor }

    /// Runs `job` on the worker's processor and waits for it; false when the worker did not take
    /// it within `timeout` seconds (stopping, or stuck in a send), and then it never runs.
    public func run(timeout: Double, _ job: @escaping (inout P) -> Void) -> Bool {
        posters.withLock { _ in runLocked(timeout: timeout, job) }
    }

    private func runLocked(timeout: Double, _ job: @escaping (inout P) -> Void) -> Bool {
        self.job = job
        state.store(State.posted.rawValue, ordering: .releasing)
        doorbell.ring()
        let deadline = Self.now() + UInt64(max(0, timeout) * 1e9)
        var pause: UInt32 = 20
        while true {
            switch State(rawValue: state.load(ordering: .acquiring))! {
            case .done:
                self.job = nil
                state.store(State.idle.rawValue, ordering: .relaxed)
                return true
            case .posted where Self.now() >= deadline:
                // Withdraw it, unless the worker takes it at this very moment.
                if state.compareExchange(expected: State.posted.rawValue, desired: State.idle.rawValue,
                                         ordering: .acquiringAndReleasing).exchanged {
                    self.job = nil
                    doorbell.drain()
                    return false
                }
            default:
                break
            }
            usleep(pause)
            pause = min(pause * 2, 2000)
        }
    }

    /// Worker side, between bursts: whether a job waits (one relaxed load).
    @inline(__always)
    public var hasJob: Bool { state.load(ordering: .relaxed) == State.posted.rawValue }

    /// Worker side: runs the posted job; true when it ran one, and then the worker calls
    /// `complete()` once what the job changed is visible (its counters published), so that the
    /// poster's next request sees it.
    public func run(on processor: inout P) -> Bool {
        guard state.compareExchange(expected: State.posted.rawValue, desired: State.taken.rawValue,
                                    ordering: .acquiringAndReleasing).exchanged else { return false }
        doorbell.drain()
        job?(&processor)
        return true
    }

    /// Worker side: the job that `run(on:)` ran is finished; its poster goes on.
    public func complete() { state.store(State.done.rawValue, ordering: .releasing) }

    /// Worker side, where nothing else needs publishing: runs a posted job and completes it.
    public func serve(_ processor: inout P) {
        if hasJob && run(on: &processor) { complete() }
    }

    private static func now() -> UInt64 { monotonicNanoseconds() }
}
