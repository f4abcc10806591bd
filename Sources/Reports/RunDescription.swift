/// What the reports say of the run's configuration: the executable fills it from its options,
/// so that the reports are built from values only.
public struct RunDescription: Sendable {
    public var version: String
    public var inName: String
    public var outName: String
    /// Only IN -> OUT.
    public var oneWay: Bool
    /// "l2", "vlan-map" or "vlan-nat".
    public var mode: String
    /// "cache" or "plain"; with the cache, its preset and its remote-free policy ("none" with plain).
    public var allocator: String
    public var cachePreset: String
    public var remoteFrees: String
    public var burst: Int
    /// `--debug-heads`: the summary shows the debug checks' counts.
    public var debugHeads: Bool
    public var filter: String?
    /// `--capture-drops` and `--capture-limit`.
    public var captureDrops: String?
    public var captureLimit: Int

    public init(version: String, inName: String, outName: String, oneWay: Bool, mode: String, allocator: String,
                cachePreset: String, remoteFrees: String, burst: Int, debugHeads: Bool, filter: String?, captureDrops: String?,
                captureLimit: Int) {
        (self.version, self.inName, self.outName, self.oneWay, self.mode) = (version, inName, outName, oneWay, mode)
        (self.allocator, self.cachePreset, self.remoteFrees, self.burst) = (allocator, cachePreset, remoteFrees, burst)
        (self.debugHeads, self.filter, self.captureDrops, self.captureLimit) = (debugHeads, filter, captureDrops, captureLimit)
    }

    /// The directions this run has: (name, from, to, index into `Snapshot.directions`).
    public var directions: [(name: String, from: String, to: String, index: Int)] {
        var list = [("in->out", inName, outName, 0)]
        if !oneWay { list.append(("out->in", outName, inName, 1)) }
        return list
    }
}
