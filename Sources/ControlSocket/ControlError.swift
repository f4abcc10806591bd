/// What went wrong with a request or the socket, as one line for the client or the log.
public struct ControlError: Error, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A request or answer, or a socket that could not be made.
        case failed
        /// Another forwarder is serving the socket's path.
        case inUse
        /// `forwarder ctl`'s command line is wrong (exit status 2).
        case usage
    }
    public let kind: Kind
    public let message: String
    public init(_ message: String, kind: Kind = .failed) {
        self.kind = kind
        self.message = message
    }
}
