import CPcap
import Glibc
import PacketFormats

/// PACKET_FANOUT for a handle: the handles (one per worker) that join one group on an
/// interface share its frames, the kernel picking one member per frame, so that workers need
/// not hand frames to each other.
///
/// `.hash` keeps each flow, both directions of it, on one member (and so its NAT state on one
/// worker); `.cpu` follows the CPU the frame arrived on; `.classicBPF` lets a program decide.
/// `rollover` spills frames to another member while one's ring is full (a flow may then be
/// seen by two workers); `defrag` reassembles IPv4 before choosing, so the fragments of a
/// datagram stay together. Every member must use the same mode and flags.
public struct FanoutSettings: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        case hash
        case cpu
        case classicBPF([ClassicBPFInstruction])
    }

    /// The group's id. Ids are per network namespace, not per interface or process: another
    /// program's group with this id makes the join fail (another interface, mode or flags),
    /// or, with the same interface, mode and flags, silently shares the frames with it.
    public var group: UInt16
    public var mode: Mode
    public var rollover: Bool
    public var defrag: Bool

    public init(group: UInt16, mode: Mode = .hash, rollover: Bool = false, defrag: Bool = false) {
        self.group = group
        self.mode = mode
        self.rollover = rollover
        self.defrag = defrag
    }

    /// A group id for this process on one interface: the low 10 bits of the process id and the
    /// low 6 of the interface index, so that processes whose ids differ by less than 1024 (and
    /// one process's interfaces whose indexes differ by less than 64) never collide. The kernel
    /// cannot tell which ids are free, so this is the likely-free choice, not a guaranteed
    /// one; indexes, like the ids, are per network namespace.
    public static func groupID(ifindex: Int32, processID: Int32 = getpid()) -> UInt16 {
        UInt16(truncatingIfNeeded: (processID & 0x3ff) << 6 | (ifindex & 0x3f))
    }

    /// `groupID(ifindex:processID:)` for an interface by name; nil when there is none.
    public static func groupID(interface name: String, processID: Int32 = getpid()) -> UInt16? {
        let index = if_nametoindex(name)
        guard index != 0 else { return nil }
        return groupID(ifindex: Int32(bitPattern: index), processID: processID)
    }

    var kernelType: Int32 {
        switch mode {
        case .hash: Int32(CPCAP_FANOUT_HASH)
        case .cpu: Int32(CPCAP_FANOUT_CPU)
        case .classicBPF: Int32(CPCAP_FANOUT_CBPF)
        }
    }

    var kernelFlags: Int32 {
        (rollover ? Int32(CPCAP_FANOUT_FLAG_ROLLOVER) : 0) | (defrag ? Int32(CPCAP_FANOUT_FLAG_DEFRAG) : 0)
    }

    var modeName: String {
        switch mode {
        case .hash: "hash"
        case .cpu: "cpu"
        case .classicBPF(let program): "classic BPF, \(program.count) instructions"
        }
    }
}
