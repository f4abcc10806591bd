import Pipeline

/// What the NAT workers of one gateway share: the hand-off mesh between them and the directory
/// of first fragments (neither for one worker), and how each worker's gateway is configured.
public final class NatWorkerGroup: Sendable {
    public let workers: Int
    public let mesh: HandOffMesh?
    let fragments: NatFragmentDirectory?

    public init(workers: Int) {
        precondition(workers >= 1 && workers <= NatWorkerShare.maxWorkers)
        self.workers = workers
        mesh = workers > 1 ? HandOffMesh(workers: workers) : nil
        fragments = workers > 1 ? NatFragmentDirectory() : nil
    }

    /// Worker `worker`'s processor: its share of the ports and of the session caps (the caps hold
    /// for the whole gateway: each worker gets an equal part, rounded up; a host's flows spread
    /// over the workers by port, so its per-host limits are split the same way).
    public func processor(config: NatConfig, worker: Int) -> NatProcessor {
        guard workers > 1 else { return NatProcessor(config: config) }
        var c = config
        c.maxSessions = (config.maxSessions + workers - 1) / workers
        c.maxSessionsPerHost = config.maxSessionsPerHost.map { ($0 + workers - 1) / workers }
        c.newSessionsPerHost = config.newSessionsPerHost.map { ($0 + workers - 1) / workers }
        return NatProcessor(config: c, share: NatWorkerShare(index: worker, count: workers), fragments: fragments)
    }

    /// Worker `worker`'s place in the mesh (nil for one worker).
    public func endpoint(_ worker: Int) -> HandOffEndpoint? { mesh.map { HandOffEndpoint(mesh: $0, index: worker) } }
}
