/// The first error a thread hit, for the main thread to report after every thread has stopped.
public final class FailureBox: Sendable {
    private let text = PthreadLocked<String?>(nil)

    public init() {}

    public func record(_ message: String) {
        text.withLock { if $0 == nil { $0 = message } }
    }

    public var message: String? { text.withLock { $0 } }
}
