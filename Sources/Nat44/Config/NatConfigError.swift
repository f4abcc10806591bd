/// A NAT option value, or a combination of them, that cannot be used; the message names the
/// option and shows a valid value.
public struct NatConfigError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
