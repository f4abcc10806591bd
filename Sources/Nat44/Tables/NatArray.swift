/// A fixed-size array of trivial values allocated once, owned by one table.
///
/// The NAT's tables live in these rather than in Swift arrays: no copy-on-write uniqueness check
/// and no retain on the per-packet path, and `~Copyable` so a table can never be shared by
/// accident (two owners of one session table would be a double free). Bounds are asserted in
/// debug builds; every index the tables compute is masked or range-checked before use.
struct NatArray<Element>: ~Copyable {
    let base: UnsafeMutablePointer<Element>
    let count: Int

    init(repeating value: Element, count: Int) {
        precondition(count >= 0)
        self.count = count
        base = .allocate(capacity: Swift.max(count, 1))
        base.initialize(repeating: value, count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// Where element `i` lives: what the subscripts (this one and `IndexTable`'s) hand out.
    @inline(__always)
    func address(_ i: Int) -> UnsafeMutablePointer<Element> {
        assert(i >= 0 && i < count, "NatArray index out of range")
        return base + i
    }

    @inline(__always)
    subscript(i: Int) -> Element {
        unsafeAddress { UnsafePointer(address(i)) }
        nonmutating unsafeMutableAddress { address(i) }
    }
}

extension NatArray where Element == Int32 {
    /// A stack of free slot indices, `count - 1` at the bottom and 0 on top (handed out first).
    init(freeListOf count: Int) {
        self.init(repeating: 0, count: count)
        for i in 0..<count { base[i] = Int32(count - 1 - i) }
    }
}
