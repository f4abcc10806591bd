import PacketFormats
#if canImport(Glibc)
import Glibc
#endif

/// "a.b.c.d/len" for every IPv4 address the kernel holds on `name`: a kernel address on a NAT
/// port answers ARP and sends its own RSTs and ICMP errors beside the gateway, so the set-up
/// warns about each, in the form `ip addr del` takes.
public func kernelIPv4Addresses(on name: String) -> [String] {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return [] }
    defer { freeifaddrs(list) }
    var result: [String] = []
    var cursor: UnsafeMutablePointer<ifaddrs>? = first
    while let entry = cursor {
        cursor = entry.pointee.ifa_next
        guard let sa = entry.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET),
              String(cString: entry.pointee.ifa_name) == name else { continue }
        let address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
        var length = 0
        if let m = entry.pointee.ifa_netmask {
            length = m.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr).nonzeroBitCount }
        }
        result.append("\(IPv4Address(address))/\(length)")
    }
    return result
}

