/// What went wrong with a request or the socket, as one line for the client or the log.
public struct ControlError: Error, Equatable, Sendable {
    /// `failed`: a request, an answer, or a socket that could not be made; `inUse`: another
    /// forwarder serves the socket's path (a second instance exits 1); `usage`: `forwarder ctl`'s
    /// command line is wrong (exit status 2).
    public enum Kind: Equatable, Sendable { case failed, inUse, usage }

    public let message: String
    public let kind: Kind

    public init(_ message: String, kind: Kind = .failed) { (self.message, self.kind) = (message, kind) }
}
