/// An option, a value or a configuration-file line that cannot be used; the message names it
/// (with `FILE:LINE` for a file's line) and, where it helps, shows a valid one.
public struct ConfigurationError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
