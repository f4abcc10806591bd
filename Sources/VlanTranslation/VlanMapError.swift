/// A `--vlan-map` value that cannot be used; the message names the entry and shows a valid one.
public struct VlanMapError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
