/// Big-endian field access on raw frame bytes.
///
/// Frames arrive at arbitrary alignment (a VLAN push shifts the start by 4), so every access is
/// an unaligned load or store; network byte order is converted here and nowhere else.
extension UnsafeRawPointer {
    @inlinable @inline(__always) public func readBE16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inlinable @inline(__always) public func readBE32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inlinable @inline(__always) public func readU8(_ offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }
}

extension UnsafeMutableRawPointer {
    @inlinable @inline(__always) public func readBE16(_ offset: Int) -> UInt16 { UnsafeRawPointer(self).readBE16(offset) }
    @inlinable @inline(__always) public func readBE32(_ offset: Int) -> UInt32 { UnsafeRawPointer(self).readBE32(offset) }
    @inlinable @inline(__always) public func readU8(_ offset: Int) -> UInt8 { UnsafeRawPointer(self).readU8(offset) }
    @inlinable @inline(__always) public func writeBE16(_ value: UInt16, _ offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }
    @inlinable @inline(__always) public func writeBE32(_ value: UInt32, _ offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inlinable @inline(__always) public func writeU8(_ value: UInt8, _ offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }
    /// Stores a 48-bit MAC address (held in the low 48 bits of `mac`, first octet most significant).
    @inlinable @inline(__always) public func writeMAC(_ mac: UInt64, _ offset: Int) {
        writeBE16(UInt16(truncatingIfNeeded: mac >> 32), offset)
        writeBE32(UInt32(truncatingIfNeeded: mac), offset + 2)
    }
    @inlinable @inline(__always) public func readMAC(_ offset: Int) -> UInt64 {
        UInt64(readBE16(offset)) << 32 | UInt64(readBE32(offset + 2))
    }
}

