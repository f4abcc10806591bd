import PacketFormats
import Pipeline

/// Which worker a frame belongs to, from the frame alone, before any session lookup: with N
/// workers each gateway owns a share of the external ports (`NatWorkerShare`), so a frame
/// belongs to the owner of the external port its session has, or will have.
///
/// - From inside, TCP/UDP: the owner of the inside source port (a new flow keeps its port when
///   free, so its external port is in the same share), except for a static forward's inside
///   endpoint: the owner of the forward's external port (the forward's session lives there).
///   That includes hairpin traffic: the source's owner translates the source first.
/// - From inside, ICMP echo: the owner of the identifier; an ICMP error: the owner by the quoted
///   packet's destination port (the inside endpoint; forwards likewise).
/// - From outside, TCP/UDP: the owner of the destination port (forwards included: the forward's
///   session is created on the owner of its external port); echo reply: the identifier's owner;
///   an ICMP error: the owner of the quoted packet's source port (our external port).
/// - Anything else (ARP, echo requests to the gateway, other protocols, malformed frames) is
///   handled where it lands (ARP is also copied to the others, `ARPReplication`); a non-first
///   fragment has no ports: `NatFragmentDirectory` knows its owner.
///
/// The kernel's fanout can apply the same rule (`fanoutProgram`) to all but the forward and
/// ICMP-error cases, so most frames land on their owner and are never handed off.
public struct NatSteering: ~Copyable {
    enum Owner: Equatable {
        case worker(Int)
        /// Handled by the worker it landed on.
        case local
        /// ARP: handled where it lands, and learned from by every worker.
        case arp
        /// A fragment other than the first: no ports to go by.
        case laterFragment
    }

    let share: NatWorkerShare
    /// The forwards' inside endpoints (`proto.index`, address, port) and their external ports.
    private let targets: NatArray<ForwardTarget>
    /// A bit per inside port that some forward targets: the per-packet test before the scan.
    private let targetPorts: NatArray<UInt64>

    struct ForwardTarget {
        var proto: UInt8
        var address: UInt32
        var port: UInt16
        var externalPort: UInt16
    }

    init(share: NatWorkerShare, forwards: [NatForward]) {
        self.share = share
        targets = NatArray(repeating: ForwardTarget(proto: 0, address: 0, port: 0, externalPort: 0),
                           count: forwards.count)
        targetPorts = NatArray(repeating: 0, count: 1024)
        for (i, f) in forwards.enumerated() {
            targets[i] = ForwardTarget(proto: f.proto.rawValue, address: f.internalAddress.value,
                                       port: f.internalPort, externalPort: f.externalPort)
            targetPorts[Int(f.internalPort >> 6)] |= 1 << UInt64(f.internalPort & 63)
        }
    }

    /// The owner of `frame` as received on `side` (Ethernet header, up to two VLAN tags: the
    /// ones the kernel takes out of band, `isKernelVlanTPID`; behind any other the frame is local).
    @inline(__always)
    func owner(_ frame: NatFrameView, from side: Side) -> Owner {
        guard let eth = frame.eth else { return .local }
        if eth.tagCount >= 1 && !Self.isKernelVlanTPID(eth.outerTPID)
            || eth.tagCount == 2 && !Self.isKernelVlanTPID(eth.innerTPID) {
            return .local
        }
        if eth.etherType == EtherType.arp { return .arp }
        guard frame.isIPv4 else { return .local }
        let ihl = frame.ihl
        guard ihl >= 20 else { return .local }
        if frame.isLaterFragment { return .laterFragment }
        let ip = frame.bytes + frame.ipOffset
        let avail = frame.length - frame.ipOffset
        let proto = frame.proto
        let l4 = ip + ihl
        switch proto {
        case NatProtocol.tcp.rawValue, NatProtocol.udp.rawValue:
            guard avail >= ihl + 4 else { return .local }
            if side == .outside { return .worker(share.owner(of: l4.readBE16(2))) }
            return .worker(insideOwner(proto, address: ip.readBE32(12), port: l4.readBE16(0)))
        case NatProtocol.icmp.rawValue:
            guard avail >= ihl + 8 else { return .local }
            let type = l4.readU8(0)
            if type == ICMPType.echoReply || (type == ICMPType.echoRequest && side == .inside) {
                return .worker(share.owner(of: l4.readBE16(4)))
            }
            guard ICMPType.isError(type) else { return .local }
            return quotedOwner(l4 + 8, length: avail - ihl - 8, from: side)
        default:
            return .local
        }
    }

    /// The owner of an ICMP error by the packet it quotes: its inside end (destination) from
    /// inside, its external end (source) from outside.
    @inline(never)
    private func quotedOwner(_ q: UnsafeRawPointer, length: Int, from side: Side) -> Owner {
        guard length >= 20 else { return .local }
        let qihl = Int(q.readU8(0) & 0x0F) << 2
        guard qihl >= 20, length >= qihl + 8 else { return .local }
        let proto = q.readU8(9)
        let ql4 = q + qihl
        switch proto {
        case NatProtocol.tcp.rawValue, NatProtocol.udp.rawValue:
            if side == .outside { return .worker(share.owner(of: ql4.readBE16(0))) }
            return .worker(insideOwner(proto, address: q.readBE32(16), port: ql4.readBE16(2)))
        case NatProtocol.icmp.rawValue:
            return .worker(share.owner(of: ql4.readBE16(4)))
        default:
            return .local
        }
    }

    /// The owner of the session of inside endpoint (`proto`, `address`, `port`): the owner of a
    /// forward's external port when it is a forward's target, else of the port itself.
    @inline(__always)
    private func insideOwner(_ proto: UInt8, address: UInt32, port: UInt16) -> Int {
        if _slowPath(targetPorts[Int(port >> 6)] & (1 << UInt64(port & 63)) != 0) {
            for i in 0..<targets.count {
                let t = targets[i]
                if t.proto == proto && t.address == address && t.port == port { return share.owner(of: t.externalPort) }
            }
        }
        return share.owner(of: port)
    }

    /// The tag TPIDs the kernel takes out of band before a packet socket's fanout runs (and the
    /// one inner tag the fanout program looks through): 802.1Q and 802.1ad.
    @inline(__always)
    static func isKernelVlanTPID(_ t: UInt16) -> Bool { t == EtherType.vlan || t == EtherType.qinq }
}
