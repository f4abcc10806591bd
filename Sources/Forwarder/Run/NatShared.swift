import Nat44
import PcapIO
import Pipeline

/// What the NAT workers of one run share: the hand-off mesh between them (none for one
/// worker), and how each worker's gateway is configured (its share of the session cap).
final class NatShared {
    let workers: Int
    let mesh: HandOffMesh?

    init(workers: Int) {
        self.workers = workers
        mesh = workers > 1 ? HandOffMesh(workers: workers) : nil
    }

    /// Worker `worker`'s processor.
    func processor(config: NatConfig, worker: Int) -> NatProcessor {
        NatProcessor(config: config)
    }
}

extension Runner {
    /// The fanout program of an interface (NAT with several workers and `--nat-steering bpf`).
    static func steeringProgram(_ options: Options, inside: Bool) -> [BPFInstruction]? {
        nil
    }
}
