/// The slot of one entry in an `IndexTable`, typed by the entry so that a neighbour's index
/// cannot be used on the session table. "No entry" is `nil`, never a magic number.
///
/// The fixed arrays that store indices (hash chains, the inbound port index, hold queues) keep
/// the raw `Int32` with `TableIndex.none` for nil: an `Optional` would double their size, and
/// the inbound port index alone has 3 × 65536 of them. Only the tables convert between the two.
struct TableIndex<Entry>: Equatable {
    let raw: Int32

    @inline(__always) init(_ raw: Int32) { self.raw = raw }

    /// The index as an array offset.
    @inline(__always) var offset: Int { Int(raw) }

    /// The stored form of `nil`.
    @inline(__always) static var none: Int32 { -1 }

    /// Reads a stored index.
    @inline(__always) static func stored(_ raw: Int32) -> TableIndex? { raw >= 0 ? TableIndex(raw) : nil }

    /// The stored form of an optional index.
    @inline(__always) static func store(_ index: TableIndex?) -> Int32 { index?.raw ?? none }
}
