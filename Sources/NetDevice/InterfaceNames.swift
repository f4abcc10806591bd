import PacketFormats
import CLinux

extension InterfaceFacts {
    /// Every interface in this namespace, in index order: listed in the error for a name that
    /// is not there, since a typo is the usual cause.
    public static func availableNames() -> [String] {
        var buffer = [CChar](repeating: 0, count: 8192)
        guard clinux_if_names(&buffer, buffer.count) > 0 else { return [] }
        return String(cText: buffer).split(separator: " ").map(String.init)
    }

    /// The name of the interface with this index here, nil when there is none.
    public static func name(ofIndex index: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        guard clinux_if_name(index, &buffer, buffer.count) == 0 else { return nil }
        return String(cText: buffer)
    }

    /// The index of the interface called `name` here, nil when there is none (or no interface can
    /// have that name).
    public static func index(of name: String) -> Int32? {
        var index: Int32 = 0
        return clinux_if_index(name, &index) == 0 ? index : nil
    }
}
