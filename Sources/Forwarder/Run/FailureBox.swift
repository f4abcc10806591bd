import Synchronization

/// The first error a worker hit, for the runner to report after every worker has stopped.
final class FailureBox: Sendable {
    private let text = Mutex<String?>(nil)

    func record(_ message: String) {
        text.withLock { if $0 == nil { $0 = message } }
    }

    var message: String? { text.withLock { $0 } }
}
