/// An interface that is not there or cannot be read; the message names it.
public struct NetDeviceError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
