/// An interface that could not be opened for capture; the message names the interface, what
/// went wrong and what to do.
public struct PcapError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
