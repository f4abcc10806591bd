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
