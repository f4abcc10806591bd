import CXdp
import Glibc
import NetDevice
import Synchronization

/// Which XDP program on an interface is the forwarder's, and when it may go. libxdp attaches its
/// program with the first socket on an interface and leaves it attached when the sockets close;
/// the forwarder detaches only a program it attached itself: one its marker names (a crashed
/// run's, once that process is gone) or one this process remembers attaching.
enum XdpProgramOwner {
    /// The programs this process attached, by interface index: the marker's twin in memory, for
    /// when the marker cannot be written (not root: /run/forwarder is root's), so that this
    /// process still detaches what it attached at its stop or failed start.
    private static let attached = Mutex<[Int32: UInt32]>([:])

    /// Before any socket on `name`: nothing attached, or a crashed forwarder's leftover, which is
    /// detached (its id returned). Another program, or a live forwarder's, is refused.
    static func prepare(_ name: String, options: XdpOptions) throws(XdpError) -> UInt32? {
        sweepMarkers()
        guard let ifindex = InterfaceFacts.index(of: name) else {
            throw XdpError(name, .noSuchDevice, detail: "no such interface", options: options)
        }
        var id: UInt32 = 0
        let queried = cxdp_program_attached(ifindex, &id)
        guard queried == 0 else { throw XdpError(name, .other, detail: "bpf_xdp_query: \(errorText(-queried))", options: options) }
        let marker = XdpProgramMarker.read(ifindex)
        if id == 0 {
            if let marker, !marker.owner.isAlive { XdpProgramMarker.remove(ifindex) }
            return nil
        }
        let program = programName(id)
        guard let marker, marker.program == id else {
            let libxdp = program == "xdp_dispatcher" || program == "xsk_def_prog"
            throw XdpError(name, .programPresent, detail: "another XDP program is attached (id \(id), "
                           + "\(program.isEmpty ? "name unknown" : program))"
                           + (libxdp ? ": libxdp's, perhaps another AF_XDP program's" : ""), options: options)
        }
        let shown = program.isEmpty ? "?" : program
        guard !marker.owner.isAlive else {
            throw XdpError(name, .programPresent, detail: "another XDP program is attached (id \(id), \(shown)): forwarder pid "
                           + "\(marker.owner.pid) is using the interface", options: options)
        }
        let detached = cxdp_program_detach(ifindex)
        guard detached == 0 else {
            throw XdpError(name, detached == -EPERM || detached == -EACCES ? .permissionDenied : .other,
                           detail: "cannot detach the XDP program (id \(id), \(shown)) a crashed forwarder (pid "
                               + "\(marker.owner.pid)) left: \(errorText(-detached))", options: options)
        }
        XdpProgramMarker.remove(ifindex)
        return id
    }

    /// After every socket on `name` is closed: detaches the program `owner` attached (its marker
    /// names the owner, or this process remembers it) while it is still the one attached, and
    /// removes the marker; anything else is left alone. nil, or why the detach failed.
    static func release(_ name: String, owner: XdpProcess) -> String? {
        guard let ifindex = InterfaceFacts.index(of: name) else { return nil }  // gone: nothing attached any more
        let remembered = owner.pid == getpid() ? attached.withLock { $0.removeValue(forKey: ifindex) } ?? 0 : 0
        var marked = remembered
        if let marker = XdpProgramMarker.read(ifindex), marker.owner == owner {
            marked = marker.program
        } else if remembered == 0 {
            return nil
        }
        var id: UInt32 = 0
        if cxdp_program_attached(ifindex, &id) == 0, id != 0, id == marked {
            let detached = cxdp_program_detach(ifindex)
            if detached != 0 { return "cannot detach the XDP program (id \(id)): \(errorText(-detached))" }
        }
        XdpProgramMarker.remove(ifindex)
        return nil
    }

    /// Runs `bind` (a socket on ifindex, which attaches libxdp's program when there is none) and
    /// takes ownership of a program it attached: remembered and marked. When the bind fails, a
    /// program it attached goes again (libxdp can fail after attaching: without CAP_SYS_ADMIN it
    /// cannot look the program up by id), so a failed start leaves nothing. bind's result.
    static func attaching(on ifindex: Int32, _ bind: () -> Int32) -> Int32 {
        var before: UInt32 = 0, id: UInt32 = 0
        if cxdp_program_attached(ifindex, &before) != 0 { before = 0 }
        let result = bind()
        let ours = cxdp_program_attached(ifindex, &id) == 0 && id != 0
            && (id != before || attached.withLock { $0[ifindex] } == id)
        if result != 0 {
            if ours && before == 0 {
                _ = cxdp_program_detach(ifindex)
                _ = attached.withLock { $0.removeValue(forKey: ifindex) }
            }
            return result
        }
        if ours {
            attached.withLock { $0[ifindex] = id }
            XdpProgramMarker.write(ifindex, program: id)
        }
        return 0
    }

    /// The XDP program on `name`: its id and name, nil when none (or no such interface).
    static func attachedProgram(_ name: String) -> (id: UInt32, name: String)? {
        var id: UInt32 = 0
        guard let ifindex = InterfaceFacts.index(of: name), cxdp_program_attached(ifindex, &id) == 0, id != 0 else { return nil }
        return (id, programName(id))
    }

    /// Markers of this network namespace whose process is gone and whose interface has no program
    /// any more (or is gone): removed, so that the directory does not fill up.
    private static func sweepMarkers() {
        for ifindex in XdpProgramMarker.markedInterfaces() {
            guard let marker = XdpProgramMarker.read(ifindex), !marker.owner.isAlive else { continue }
            var id: UInt32 = 0
            if InterfaceFacts.name(ofIndex: ifindex) == nil || (cxdp_program_attached(ifindex, &id) == 0 && id != marker.program) {
                XdpProgramMarker.remove(ifindex)
            }
        }
    }

    private static func programName(_ id: UInt32) -> String {
        var name = [CChar](repeating: 0, count: 64)
        _ = cxdp_program_name(id, &name, name.count)
        return String(xdpText: name)
    }
}
