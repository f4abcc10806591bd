/// EtherType values the forwarder looks at.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let ipv6: UInt16 = 0x86DD
    /// 802.1Q customer tag.
    public static let vlan: UInt16 = 0x8100
    /// 802.1ad service tag (the outer tag of a stacked pair).
    public static let qinq: UInt16 = 0x88A8
    /// The pre-standard stacking TPID some switches still send.
    public static let qinqLegacy: UInt16 = 0x9100

    @inlinable @inline(__always) public static func isVlanTPID(_ t: UInt16) -> Bool {
        t == vlan || t == qinq || t == qinqLegacy
    }
}

