/// The ICMP types the gateway tells apart.
enum ICMPType {
    static let echoReply: UInt8 = 0
    static let destinationUnreachable: UInt8 = 3
    static let sourceQuench: UInt8 = 4
    static let redirect: UInt8 = 5
    static let echoRequest: UInt8 = 8
    static let timeExceeded: UInt8 = 11
    static let parameterProblem: UInt8 = 12

    /// The errors the gateway translates in transit (their quoted packet carries a session).
    @inline(__always)
    static func isError(_ type: UInt8) -> Bool {
        type == destinationUnreachable || type == timeExceeded || type == parameterProblem
    }
}
