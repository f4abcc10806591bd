import Nat44
import PacketFormats

extension Runner {
    /// The fanout program of an interface: NAT with several workers and `--nat-steering bpf`
    /// puts each frame on its owner's socket (docs/nat.md, "One thread per worker"); nil
    /// otherwise (the kernel's symmetric flow hash).
    static func steeringProgram(_ options: Options, inside: Bool) -> [ClassicBPFInstruction]? {
        guard case .vlanNat = options.mode, options.parallel.workers > 1, options.parallel.steering == .bpf else { return nil }
        return NatSteering.fanoutProgram(for: inside ? .inside : .outside, workers: options.parallel.workers)
    }
}
