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
    mutating func ownerElsewhere<A: HeadAllocator & ~Copyable>(_ head: PacketHead, _ frame: NatFrameView, from side: Side,
                                                               now: UInt64, allocator: inout A) -> Int? {
        switch steering.owner(frame, from: side) {
        case .worker(let w):
            guard w != share.index else { return nil }
            if directory != nil && frame.isFirstFragment { announceFirstFragment(frame, from: side, owner: w, now: now) }
            return w
        case .local:
            return nil
        case .arp:
            replicateARP(head, side, &allocator)
            return nil
        case .laterFragment:
            return laterFragmentOwner(frame, from: side, now: now)
        }
    }

    /// The worker that translated the first fragment of this later fragment's datagram, when
    /// that is another one. Unknown (its first fragment has not come yet) or this worker: nil,
    /// and the gateway translates it or holds it; `handOffHeldFragments` sends the held ones on
    /// once their owner is known.
    @inline(never)
    mutating func laterFragmentOwner(_ frame: NatFrameView, from side: Side, now: UInt64) -> Int? {
        guard let directory, let w = directory.owner(fragmentKey(frame, from: side), now: now), w != share.index else {
            return nil
        }
        return w
    }

    /// A first fragment handed to its owner: its later fragments, which land here too (the
    /// kernel's flow hash sees no ports in any fragment), must follow it to the owner at once,
    /// not wait here for the owner to publish the record. Publishing the owner now, before the
    /// first fragment is on its lane, sends them after it on the same lane, in order.
    @inline(never)
    mutating func announceFirstFragment(_ frame: NatFrameView, from side: Side, owner: Int, now: UInt64) {
        directory?.publish(fragmentKey(frame, from: side), owner: owner, expires: now &+ timers.fragmentLifetime)
    }

    /// The directory's key of an IPv4 fragment.
    private func fragmentKey(_ frame: NatFrameView, from side: Side) -> FragmentKey {
        let ip = frame.bytes + frame.ipOffset
        return FragmentKey(side: side, src: ip.readBE32(12), dst: ip.readBE32(16), id: ip.readBE16(4), proto: frame.proto)
    }

    /// Takes the next frame for another worker.
    mutating func popHandOff() -> HandOffRequest? { handOffs.pop() }
}
