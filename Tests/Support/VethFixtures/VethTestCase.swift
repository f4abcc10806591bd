import XCTest

/// The set-up and tear-down of every kernel-facing test class: `makeVeth` creates a pair (root
/// needed) and `tearDown` deletes every pair the test made, also when it failed or threw, so no
/// interface outlives its test.
open class VethTestCase: XCTestCase {
    /// The first characters of the class's interface names (the pid and a tag follow): one per
    /// test target, so the targets' runs never share a name.
    open class var vethPrefix: String { "vth" }

    private var pairs: [VethPair] = []

    /// A new pair named from `vethPrefix` and `tag`, both ends up unless `up` is false.
    public func makeVeth(_ tag: String, up: Bool = true) throws -> VethPair {
        try requireRoot("creates veth pairs")
        let pair = try VethPair(prefix: type(of: self).vethPrefix, tag: tag, up: up)
        pairs.append(pair)
        return pair
    }

    override open func tearDown() {
        for pair in pairs { pair.delete() }
        pairs = []
        super.tearDown()
    }
}
