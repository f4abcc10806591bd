/// The two ports: IN (first interface on the command line, the inside in NAT mode) and OUT.
public enum Side: Int, Sendable, CaseIterable {
    case inside = 0
    case outside = 1

    @inlinable public var other: Side { self == .inside ? .outside : .inside }
    public var name: String { self == .inside ? "in" : "out" }
}
