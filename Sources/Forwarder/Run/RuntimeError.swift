/// A failure while running (interface gone, permission, I/O): printed as one line, exit status 1.
struct RuntimeError: Error, Equatable {
    let message: String
    /// The interface the failure is about, when it is about one (for the log's `interface`).
    let interface: String?
    init(_ message: String, interface: String? = nil) {
        self.message = message
        self.interface = interface
    }
}
