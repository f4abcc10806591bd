import ProcessControl

/// What ended a run; the summary says it, the JSON as `stopped_by`.
public enum StopReason: Equatable, Sendable {
    case signal(Int32)
    /// `--duration` ran out.
    case duration
    /// A worker failed (exit status 1); the message names the interface.
    case error(String)
    /// Not stopped: a snapshot asked for with SIGUSR1 (`stopped_by` is `running`).
    case running
}

extension StopReason {
    /// Why the workers were stopped, when no worker failed: the signal, or `--duration`.
    public static var now: StopReason { StopControl.stopSignal.map { .signal($0) } ?? .duration }
}
