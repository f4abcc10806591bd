import PacketFormats

/// The fields of an Ethernet/IPv4 ARP packet (RFC 826), as offsets from its start.
enum ARPField {
    static let length = 28
    static let hardwareType = 0
    static let protocolType = 2
    static let hardwareLength = 4
    static let protocolLength = 5
    static let operation = 6
    static let senderMAC = 8
    static let senderIP = 14
    static let targetMAC = 18
    static let targetIP = 24

    static let request: UInt16 = 1
    static let reply: UInt16 = 2
}

/// The fields of an Ethernet/IPv4 ARP request or reply the gateway acts on.
struct ARPMessage {
    let op: UInt16
    let sha: UInt64
    let spa: UInt32
    let tpa: UInt32

    /// Nil unless `length` bytes at `a` are an Ethernet/IPv4 ARP request or reply.
    init?(_ a: UnsafeMutableRawPointer, length: Int) {
        guard length >= ARPField.length else { return nil }
        guard a.readBE16(ARPField.hardwareType) == 1, a.readBE16(ARPField.protocolType) == EtherType.ipv4,
              a.readU8(ARPField.hardwareLength) == 6, a.readU8(ARPField.protocolLength) == 4 else {
            return nil
        }
        op = a.readBE16(ARPField.operation)
        guard op == ARPField.request || op == ARPField.reply else { return nil }
        sha = a.readMAC(ARPField.senderMAC)
        spa = a.readBE32(ARPField.senderIP)
        tpa = a.readBE32(ARPField.targetIP)
    }
}
