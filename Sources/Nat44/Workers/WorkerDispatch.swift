import BufferCache
import PacketFormats
import Pipeline

/// What a hand-off between NAT workers carries besides the frame (`HandOff.mark`).
enum NatHandOffMark: UInt8 {
    /// A frame that belongs to the receiving worker: processed as if received there.
    case plain = 0
    /// A copy of an ARP frame another worker handled: learn from it, never answer it.
    case arpCopy = 1
    /// A hairpinned packet whose source the sending worker translated: the receiving worker owns
    /// the destination's mapping and translates the destination.
    case hairpin = 2
}

/// Where a frame is processed when there are several workers: the owner of the session it
/// belongs to (`NatSteering`), found before any session lookup.
extension NatGateway {
    /// The worker a frame received here belongs to when that is another one; nil to process it
    /// here. An ARP frame is processed here and copied to the others first.
    @inline(__always)
    mutating func ownerElsewhere<A: HeadAllocator & ~Copyable>(_ head: PacketHead, from side: Side, now: UInt64,
                                                               allocator: inout A) -> Int? {
        switch steering.owner(UnsafeRawPointer(head.data), length: head.length, from: side) {
        case .worker(let w):
            return w != share.index ? w : nil
        case .local:
            return nil
        case .arp:
            replicateARP(head, side, &allocator)
            return nil
        case .laterFragment:
            return laterFragmentOwner(head, from: side, now: now)
        }
    }

    /// The worker that translated the first fragment of this later fragment's datagram, when
    /// that is another one. Unknown (its first fragment has not come yet) or this worker: nil,
    /// and the gateway translates it or holds it; `handOffHeldFragments` sends the held ones on
    /// once their owner is known.
    @inline(never)
    mutating func laterFragmentOwner(_ head: PacketHead, from side: Side, now: UInt64) -> Int? {
        guard let directory, let eth = EthernetHeader.parse(UnsafeRawPointer(head.data), length: head.length),
              head.length - eth.payloadOffset >= 20 else { return nil }
        let ip = head.data + eth.payloadOffset
        let key = FragmentKey(side: side, src: ip.readBE32(12), dst: ip.readBE32(16), id: ip.readBE16(4),
                              proto: ip.readU8(9))
        guard let w = directory.owner(key, now: now), w != share.index else { return nil }
        return w
    }

    /// Takes the next frame for another worker.
    mutating func popHandOff() -> HandOffRequest? { handOffs.pop() }
}
