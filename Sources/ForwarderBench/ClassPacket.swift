/// The naive Swift baseline: what a first attempt in idiomatic Swift would allocate per packet.
/// A class instance (reference counted) holding a `[UInt8]` buffer (a second, zero-filled heap
/// object), the same metadata fields as `HeadMeta`.
final class ClassPacket {
    var bytes: [UInt8]
    var dataOffset = 64
    var length = 0
    var timestamp: UInt64 = 0
    var vlanTCI: UInt16 = 0
    var ingressPort: UInt16 = 0
    var flowHash: UInt32 = 0

    init(bufferSize: Int) {
        bytes = [UInt8](repeating: 0, count: bufferSize)
    }
}
