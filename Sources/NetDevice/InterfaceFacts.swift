import CLinux
import PacketFormats

/// What the forwarder needs to know about an interface before opening it: the MTU bounds what
/// it may send, `up` and `running` turn a silent stall into a message, and the driver and link
/// find a veth's peer, whose offloads decide whether frames can be forwarded at all.
public struct InterfaceFacts: Sendable {
    public let name: String
    public let index: Int32
    /// The peer's index for a veth (as the kernel reports it; may belong to another namespace),
    /// -1 when sysfs does not say.
    public let link: Int32
    public let mac: EthernetAddress
    public let mtu: Int
    public let up: Bool
    public let running: Bool
    /// "" for a device without ethtool driver info (lo).
    public let driver: String

    /// The facts, or `.noSuchDevice` naming the interfaces that do exist. Each fact is one
    /// ioctl, so an interface deleted half-way is also `.noSuchDevice`.
    public static func lookup(_ name: String) throws(NetDeviceError) -> InterfaceFacts {
        var index: Int32 = 0, mtu: Int32 = 0, up: Int32 = 0, running: Int32 = 0, link: Int32 = -1
        var mac = [UInt8](repeating: 0, count: 6)
        var driver = [CChar](repeating: 0, count: 64)
        try NetDeviceError.check(clinux_if_index(name, &index), name: name, what: "SIOCGIFINDEX")
        try NetDeviceError.check(clinux_if_mac(name, &mac), name: name, what: "SIOCGIFHWADDR")
        try NetDeviceError.check(clinux_if_mtu(name, &mtu), name: name, what: "SIOCGIFMTU")
        try NetDeviceError.check(clinux_if_flags(name, &up, &running), name: name, what: "SIOCGIFFLAGS")
        try NetDeviceError.check(clinux_if_driver(name, &driver, driver.count), name: name, what: "ETHTOOL_GDRVINFO")
        if clinux_if_iflink(name, &link) != 0 { link = -1 }
        return InterfaceFacts(name: name, index: index, link: link, mac: EthernetAddress(bytes: mac)!,
                              mtu: Int(mtu), up: up != 0, running: running != 0, driver: String(cText: driver))
    }

    /// The RX queues of `name` (sysfs queues/rx-*), nil when unknown: a socket that binds one queue
    /// (AF_XDP) leaves the others' frames to the kernel.
    public static func rxQueues(of name: String) -> Int? {
        var count: Int32 = 0
        return clinux_if_rx_queues(name, &count) == 0 ? Int(count) : nil
    }

    /// The other end of a veth when it is in this namespace (its own link points back at us).
    /// In another namespace the link is an index there, which may name an unrelated device
    /// here: the back-pointer and the driver rule that out.
    public func visibleVethPeer() -> InterfaceFacts? {
        guard driver == "veth", link > 0, link != index, let peerName = InterfaceFacts.name(ofIndex: link),
              let peer = try? InterfaceFacts.lookup(peerName), peer.link == index, peer.driver == "veth"
        else { return nil }
        return peer
    }
}
