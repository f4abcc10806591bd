import BufferCache
import PacketFormats
import Pipeline

extension NatGateway {
    /// ARP on `side`: requests for the side's own address are answered in place (the request's
    /// head becomes the reply); replies to our requests resolve neighbours and release held
    /// packets (with several workers, any reply to our address from a subnet host is learned);
    /// everything else is dropped (`arpIgnored`). Neighbours are learned from requests
    /// addressed to us and from replies; any ARP from a known neighbour refreshes its MAC.
    @inline(never)
    mutating func processARP<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ side: Side, l2: Int, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        guard let m = ARPMessage(head.data + l2, length: head.length - l2) else { return drop(.malformed) }
        counters.arpReceived &+= 1
        let a = head.data + l2
        let op = m.op, sha = m.sha, spa = m.spa, tpa = m.tpa
        let me = sides[side]
        if sha == 0 || EthernetAddress(sha).isMulticast || spa == me.address { return drop(.arpIgnored) }
        var n = neighbours.find(side, spa)
        if let known = n { learn(known, mac: sha, side: side, now, &allocator) }
        guard tpa == me.address else { return drop(.arpIgnored) }
        if op == ARPField.request {
            if n == nil && spa != 0 && me.isHost(spa) {
                n = neighbours.insert(side, spa, state: .reachable, now: now)
                if let new = n { neighbours[new].mac = sha }
            }
            // The request becomes the reply: same head, same tag.
            me.returnToSender(head.data)
            a.writeBE16(ARPField.reply, ARPField.operation)
            a.writeMAC(sha, ARPField.targetMAC)
            a.writeBE32(spa, ARPField.targetIP)
            a.writeMAC(me.mac, ARPField.senderMAC)
            a.writeBE32(me.address, ARPField.senderIP)
            counters.arpRequestsAnswered &+= 1
            return .forward(side)
        }
        if n == nil {
            // With several workers a reply to our address may answer another worker's request
            // (each resolves its own next hops; all of them learn from a copy): learn it here too.
            guard share.count > 1, me.isHost(spa), let new = neighbours.insert(side, spa, state: .reachable, now: now) else {
                return drop(.arpIgnored)
            }
            neighbours[new].mac = sha
        }
        counters.arpRepliesReceived &+= 1
        allocator.put(head)
        return .consumed
    }
}
