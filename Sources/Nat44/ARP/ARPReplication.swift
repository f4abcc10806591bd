import BufferCache
import PacketFormats
import Pipeline

/// ARP with several workers: every worker resolves its own next hops (its own requests, retries
/// and hold queues), but an ARP frame lands on one worker only. So the worker it lands on handles
/// it as usual (answers, learns) and hands a copy to every other worker, which only learns from
/// it: a neighbour one worker learned, all know, and a reply releases the frames any worker held.
extension NatGateway {
    /// Queues a copy of ARP frame `head` (received on `side`) for every other worker. A copy
    /// that finds no head or no room is not made (counted as `noBuffer` / `outputFull`, as frames
    /// the gateway makes itself are).
    @inline(never)
    mutating func replicateARP<A: HeadAllocator & ~Copyable>(_ head: PacketHead, _ side: Side, _ allocator: inout A) {
        for w in 0..<share.count where w != share.index {
            guard let copy = allocator.get() else {
                counters.drops[.noBuffer] &+= 1
                counters.dropsLater &+= 1
                continue
            }
            guard head.length <= copy.tailroomLimit else {
                allocator.put(copy)
                continue
            }
            copy.length = head.length
            copy.data.copyMemory(from: head.data, byteCount: head.length)
            guard handOffs.push(HandOffRequest(worker: w, handOff: HandOff(head: copy, side: side,
                                                                           mark: NatHandOffMark.arpCopy.rawValue))) else {
                counters.drops[.outputFull] &+= 1
                counters.dropsLater &+= 1
                allocator.put(copy)
                continue
            }
            counters.arpCopiesSent &+= 1
        }
    }

    /// Learns from another worker's copy of an ARP frame received on `side`: the sender's MAC
    /// when it is a known neighbour (releasing what is held for it), or a new neighbour when the
    /// frame is addressed to our address from a host of the subnet (as a request to us or a
    /// reply to any worker's request teaches the worker it lands on). Never answers, counts no
    /// drop (the landing worker counted the frame); the caller puts the head back.
    @inline(never)
    mutating func learnFromCopy<A: HeadAllocator & ~Copyable>(_ head: PacketHead, _ side: Side, _ now: UInt64,
                                                             _ allocator: inout A) {
        guard let eth = EthernetHeader.parse(UnsafeRawPointer(head.data), length: head.length),
              ingressPCP(eth, side) != nil, eth.etherType == EtherType.arp,
              let m = ARPMessage(head.data + eth.payloadOffset, length: head.length - eth.payloadOffset) else { return }
        let me = sides[side]
        guard m.sha != 0, !EthernetAddress(m.sha).isMulticast, m.spa != me.address else { return }
        if let known = neighbours.find(side, m.spa) {
            learn(known, mac: m.sha, side: side, now, &allocator)
        } else if m.tpa == me.address && me.isHost(m.spa),
                  let new = neighbours.insert(side, m.spa, state: .reachable, now: now) {
            neighbours[new].mac = m.sha
        }
    }
}
