/// A mistake in how the forwarder was invoked: printed as one line, exit status 2.
struct UsageError: Error, Equatable {
    let message: String
    init(_ message: String) { self.message = message }
}
