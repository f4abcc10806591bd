/// How a worker waits for frames when none are coming (`--poll`): the trade between the
/// latency of a frame that arrives on an idle link and the CPU spent waiting for it.
public enum PollMode: Sendable, Equatable, CustomStringConvertible {
    /// Sleep in poll() as soon as a pass finds less than a full burst: no CPU while idle, but
    /// the kernel has to wake the worker for the first frame after a pause (a scheduler
    /// wake-up, tens of microseconds on a loaded machine).
    case wait
    /// Never sleep: poll the sockets (and the hand-off lanes) in a loop, with a sched_yield
    /// after each empty pass (another thread ready on the core runs first). Lowest latency, a
    /// whole core per worker at all times when nothing else wants it.
    case busy
    /// Keep polling for `microseconds` after the last frame, then sleep as `wait` does.
    case adaptive(microseconds: Int)

    /// The default of `adaptive`: 100 µs, a little more than a UDP request-response round trip
    /// through the forwarder on a veth testbed (50-80 µs), so that a ping-pong keeps the worker
    /// awake between a request and the next one, while a worker left idle stops spinning within
    /// 0.1 ms (at most 10 % of a core for a frame every millisecond).
    public static let defaultAdaptiveMicroseconds = 100
    /// The longest spin `adaptive` accepts: one second, beyond which `busy` says it better.
    public static let maxAdaptiveMicroseconds = 1_000_000

    /// Parses `wait`, `busy`, `adaptive` or `adaptive:USEC`; nil for anything else.
    public init?(_ text: String) {
        switch text {
        case "wait": self = .wait
        case "busy": self = .busy
        case "adaptive": self = .adaptive(microseconds: Self.defaultAdaptiveMicroseconds)
        default:
            guard text.hasPrefix("adaptive:"), let usec = Int(text.dropFirst("adaptive:".count)),
                  usec >= 1, usec <= Self.maxAdaptiveMicroseconds else { return nil }
            self = .adaptive(microseconds: usec)
        }
    }

    /// As `--poll` takes it: "wait", "busy", "adaptive:100".
    public var description: String {
        switch self {
        case .wait: "wait"
        case .busy: "busy"
        case .adaptive(let usec): "adaptive:\(usec)"
        }
    }

    /// How long a worker keeps polling after the last frame before it sleeps, in nanoseconds:
    /// 0 for `wait`, nil for `busy` (forever).
    public var spinNanoseconds: UInt64? {
        switch self {
        case .wait: 0
        case .busy: nil
        case .adaptive(let usec): UInt64(usec) * 1000
        }
    }
}

/// What waiting cost a worker: the CPU it spent polling without finding anything, and the
/// sleeps in poll() it was woken from (each a scheduler wake-up on the way to the next frame).
public struct PollCounters: Sendable, Equatable {
    /// Nanoseconds of passes that received nothing while the worker kept polling (`busy`, and
    /// `adaptive` within its spin): CPU traded for latency. Wall time: it includes what other
    /// threads ran of it after the worker yielded.
    public var busyNanoseconds: UInt64 = 0
    /// Passes that received nothing while the worker kept polling.
    public var emptyPolls: UInt64 = 0
    /// Times the worker slept in poll() and was woken (by a frame, a hand-off, a timer or the stop).
    public var wakeUps: UInt64 = 0
    /// Nanoseconds spent in those poll() calls, asleep or waking up.
    public var sleepNanoseconds: UInt64 = 0

    public init() {}

    public static func + (a: PollCounters, b: PollCounters) -> PollCounters {
        var s = a
        s.busyNanoseconds &+= b.busyNanoseconds
        s.emptyPolls &+= b.emptyPolls
        s.wakeUps &+= b.wakeUps
        s.sleepNanoseconds &+= b.sleepNanoseconds
        return s
    }
}
