import BufferCache
import PacketFormats
import Pipeline

extension NatGateway {
    /// `--ipv6 bridge`: an IPv6 frame leaves on the other side with that side's tagging (tag
    /// rewritten, pushed or popped as the VLAN map does, PCP and DEI kept) and nothing else
    /// changed: MACs, hop limit and payload are the hosts' and the IPv6 router's business.
    @inline(never)
    mutating func bridgeIPv6(_ head: PacketHead, _ eth: EthernetHeader, from side: Side, pcp: UInt16) -> NatVerdict {
        let out = side == .inside ? Side.outside : Side.inside
        let l2 = eth.payloadOffset
        let newL2 = sides[out].headerLength
        // The MACs stay where they are: the tag (if any) after them is what changes.
        if newL2 < l2 {
            head.removeBytes(at: 12, count: l2 - newL2)
        } else if newL2 > l2 {
            guard head.insertGap(at: 12, count: newL2 - l2) != nil else { return drop(.noHeadroom) }
        }
        let p = head.data
        let vlan = sides[out].vlan
        if vlan != 0 {
            p.writeBE16(EtherType.vlan, 12)
            p.writeBE16(pcp | vlan, 14)
            p.writeBE16(EtherType.ipv6, 16)
        } else {
            p.writeBE16(EtherType.ipv6, 12)
        }
        if side == .inside { counters.ipv6BridgedOutbound &+= 1 } else { counters.ipv6BridgedInbound &+= 1 }
        return .forward(out)
    }
}
