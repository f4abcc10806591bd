import Nat44
import PacketFormats
import Pipeline

/// What the NAT workers of one run share: the hand-off mesh between them and the directory of
/// first fragments (neither for one worker), and how each worker's gateway is configured.
final class NatShared {
    let workers: Int
    let mesh: HandOffMesh?
    let fragments: NatFragmentDirectory?

    init(workers: Int) {
        self.workers = workers
        mesh = workers > 1 ? HandOffMesh(workers: workers) : nil
        fragments = workers > 1 ? NatFragmentDirectory() : nil
    }

    /// Worker `worker`'s processor: its share of the ports and of the session cap (the cap
    /// holds for the whole gateway: each worker gets an equal part, rounded up).
    func processor(config: NatConfig, worker: Int) -> NatProcessor {
        guard workers > 1 else { return NatProcessor(config: config) }
        var c = config
        c.maxSessions = (config.maxSessions + workers - 1) / workers
        return NatProcessor(config: c, share: NatWorkerShare(index: worker, count: workers), fragments: fragments)
    }
}

extension Runner {
    /// The fanout program of an interface: NAT with several workers and `--nat-steering bpf`
    /// puts each frame on its owner's socket (docs/nat.md, "Several workers"); nil otherwise
    /// (the kernel's symmetric flow hash).
    static func steeringProgram(_ options: Options, inside: Bool) -> [ClassicBPFInstruction]? {
        guard case .vlanNat = options.mode, options.parallel.workers > 1, options.parallel.steering == .bpf else { return nil }
        return NatSteering.fanoutProgram(for: inside ? .inside : .outside, workers: options.parallel.workers)
    }
}
