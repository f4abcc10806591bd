/// One classic BPF instruction (`struct sock_filter` of linux/filter.h), as the kernel takes it
/// for socket filters and for a PACKET_FANOUT_CBPF steering program: a program is an array of
/// these, passed in a `struct sock_fprog`. Layout matches the C struct (8 bytes).
public struct ClassicBPFInstruction: Sendable, Equatable {
    public var code: UInt16
    /// Jump offsets, relative to the next instruction, when the condition holds / does not.
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32 = 0) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }
}

/// The opcode parts (linux/bpf_common.h) a program is built from: class | size | mode for loads,
/// class | operation | source for ALU and jumps, class | source for returns.
public enum ClassicBPF {
    // Classes.
    public static let ld: UInt16 = 0x00, ldx: UInt16 = 0x01, alu: UInt16 = 0x04, jmp: UInt16 = 0x05, ret: UInt16 = 0x06
    // Load sizes.
    public static let w: UInt16 = 0x00, h: UInt16 = 0x08, b: UInt16 = 0x10
    // Load modes: absolute offset, X + offset, and the IPv4 header length idiom 4 * (P[k] & 0xf).
    public static let abs: UInt16 = 0x20, ind: UInt16 = 0x40, msh: UInt16 = 0xA0
    // ALU operations.
    public static let rsh: UInt16 = 0x70, mod: UInt16 = 0x90
    // Jumps.
    public static let ja: UInt16 = 0x00, jeq: UInt16 = 0x10, jset: UInt16 = 0x40
    // Sources: the constant k, or (returns) the accumulator.
    public static let k: UInt16 = 0x00, a: UInt16 = 0x10

    /// Ancillary loads (`ld` with k at `SKF_AD_OFF` + n) read skb fields instead of packet bytes;
    /// `SKF_AD_PROTOCOL` is the EtherType in host order (skb->protocol, after the kernel took
    /// the outer VLAN tag out of band).
    public static let ancillaryOffset: UInt32 = 0xFFFF_F000
    public static let ancillaryProtocol: UInt32 = ancillaryOffset + 0
}
