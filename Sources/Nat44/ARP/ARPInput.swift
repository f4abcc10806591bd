import BufferCache
import PacketFormats
import Pipeline

extension NatGateway {
    /// ARP on `side`: requests for the side's own address are answered in place (the request's
    /// head becomes the reply); replies to our requests resolve neighbours and release held
    /// packets; everything else is dropped (`arpIgnored`). Neighbours are learned from requests
    /// addressed to us and from replies; any ARP from a known neighbour refreshes its MAC.
    @inline(never)
    mutating func processARP<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ side: Side, l2: Int, _ now: UInt64, _ allocator: inout A
    ) -> NatVerdict {
        let a = head.data + l2
        guard head.length - l2 >= ARPField.length else { return drop(.malformed) }
        guard a.readBE16(ARPField.hardwareType) == 1, a.readBE16(ARPField.protocolType) == EtherType.ipv4,
              a.readU8(ARPField.hardwareLength) == 6, a.readU8(ARPField.protocolLength) == 4 else {
            return drop(.malformed)
        }
        let op = a.readBE16(ARPField.operation)
        guard op == ARPField.request || op == ARPField.reply else { return drop(.malformed) }
        counters.arpReceived &+= 1
        let sha = a.readMAC(ARPField.senderMAC)
        let spa = a.readBE32(ARPField.senderIP)
        let tpa = a.readBE32(ARPField.targetIP)
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
        guard n != nil else { return drop(.arpIgnored) }
        counters.arpRepliesReceived &+= 1
        allocator.put(head)
        return .consumed
    }
}
