/// A failure while running (interface gone, permission, I/O): printed as one line, exit status 1.
struct RuntimeError: Error, Equatable {
    let message: String
    init(_ message: String) { self.message = message }
}
