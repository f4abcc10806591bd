/// The two ports: IN (first interface on the command line, the inside in NAT mode) and OUT.
enum Side: Int, Sendable, CaseIterable {
    case inside = 0
    case outside = 1

    var other: Side { self == .inside ? .outside : .inside }
    var name: String { self == .inside ? "in" : "out" }
}
