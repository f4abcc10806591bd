import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Why looking up or dropping to a user failed; `message` is one line naming the user or group,
/// the reason and, for a failed drop, the fix.
public struct PrivilegeError: Error, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// No such user or group (a usage error).
        case unknown
        /// The look-up itself failed (NSS, I/O).
        case lookup
        /// The drop failed (e.g. not root and no CAP_SETUID/CAP_SETGID).
        case drop
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// Least privilege: the process becomes an ordinary user with no capabilities, for good, once
/// it holds what needed privilege (the packet sockets, the files it writes).
public enum Privileges {
    /// Who to become: the ids, and the names they were given as (for messages).
    public struct Target: Equatable, Sendable {
        public let user: String
        public let uid: UInt32
        public let group: String?
        public let gid: UInt32
        public init(user: String, uid: UInt32, group: String?, gid: UInt32) {
            self.user = user
            self.uid = uid
            self.group = group
            self.gid = gid
        }
    }

    /// The uid and the primary gid of `user` (getpwnam_r). A name of digits only is not taken
    /// as a uid: it must be a user in the password database.
    public static func lookupUser(_ user: String) throws(PrivilegeError) -> (uid: UInt32, gid: UInt32) {
        var uid: UInt32 = 0, gid: UInt32 = 0
        let rc = clinux_lookup_user(user, &uid, &gid)
        if rc == ENOENT { throw PrivilegeError(.unknown, "no such user '\(user)'") }
        if rc != 0 { throw PrivilegeError(.lookup, "cannot look up user '\(user)': \(errorText(rc))") }
        return (uid, gid)
    }

    /// The gid of `group` (getgrnam_r).
    public static func lookupGroup(_ group: String) throws(PrivilegeError) -> UInt32 {
        var gid: UInt32 = 0
        let rc = clinux_lookup_group(group, &gid)
        if rc == ENOENT { throw PrivilegeError(.unknown, "no such group '\(group)'") }
        if rc != 0 { throw PrivilegeError(.lookup, "cannot look up group '\(group)': \(errorText(rc))") }
        return gid
    }

    /// `user` with its primary group, or `group` when given.
    public static func target(user: String, group: String?) throws(PrivilegeError) -> Target {
        let (uid, primary) = try lookupUser(user)
        let gid = try group.map { name throws(PrivilegeError) in try lookupGroup(name) } ?? primary
        return Target(user: user, uid: uid, group: group, gid: gid)
    }

    /// Looks the names up and drops to them (`drop(to: Target)`).
    public static func drop(to user: String, group: String?) throws(PrivilegeError) {
        try drop(to: try target(user: user, group: group))
    }

    /// Becomes `target` for good: KEEPCAPS off, the bounding set emptied (when the process may:
    /// CAP_SETPCAP), the ambient set cleared, the supplementary groups cleared, the gid, then the
    /// uid (real, effective and saved), the remaining capability sets emptied, no_new_privs on;
    /// then all of it read back and a setuid(0) refused. Call it while the process has one thread.
    public static func drop(to target: Target) throws(PrivilegeError) {
        var failed: Int32 = 0, boundingKept: Int32 = 0
        let rc = clinux_drop_privileges(target.uid, target.gid, &failed, &boundingKept)
        guard rc != 0 else { return }
        let who = "user '\(target.user)' (uid \(target.uid), gid \(target.gid))"
        let step: String
        switch failed {
        case CLINUX_DROP_KEEPCAPS: step = "prctl(PR_SET_KEEPCAPS)"
        case CLINUX_DROP_BOUNDING: step = "dropping the capability bounding set"
        case CLINUX_DROP_AMBIENT: step = "clearing the ambient capabilities"
        case CLINUX_DROP_GROUPS: step = "clearing the supplementary groups (setgroups)"
        case CLINUX_DROP_GID: step = "setting the group (setresgid \(target.gid))"
        case CLINUX_DROP_UID: step = "setting the user (setresuid \(target.uid))"
        case CLINUX_DROP_CAPS: step = "clearing the capabilities (capset)"
        case CLINUX_DROP_NO_NEW_PRIVS: step = "prctl(PR_SET_NO_NEW_PRIVS)"
        default: step = "checking the result"
        }
        var text = "cannot drop privileges to \(who): \(step): \(errorText(rc))"
        if rc == EPERM && failed != CLINUX_DROP_VERIFY {
            text += "; run as root (or with CAP_SETUID and CAP_SETGID), or leave out --user"
        }
        throw PrivilegeError(.drop, text)
    }

    /// Capabilities by their kernel numbers, the few a helper keeps when it limits itself.
    public enum Capability: Int, Sendable {
        case netAdmin = 12, sysAdmin = 21, bpf = 39
    }

    /// Least privilege without a change of user, for a helper that keeps root's ids: only `keep`
    /// stays in the effective, permitted and bounding sets; the inheritable and ambient sets are
    /// emptied and no_new_privs set (the steps of `drop(to:)` but the ids). Every step runs; the
    /// first that failed is thrown (a caller may go on with more than it asked for).
    public static func limit(keeping keep: [Capability]) throws(PrivilegeError) {
        let mask = keep.reduce(UInt64(0)) { $0 | 1 << UInt64($1.rawValue) }
        let rc = clinux_limit_capabilities(mask)
        if rc != 0 { throw PrivilegeError(.drop, "cannot limit the capabilities: \(errorText(rc))") }
    }

    /// The calling thread's capability sets (capget): effective, permitted, inheritable.
    public static func capabilities() -> (effective: UInt64, permitted: UInt64, inheritable: UInt64)? {
        var e: UInt64 = 0, p: UInt64 = 0, i: UInt64 = 0
        return clinux_capabilities(&e, &p, &i) == 0 ? (e, p, i) : nil
    }

    /// What the calling thread runs as: the ids, the groups, the capability sets, no_new_privs.
    public struct Credentials: Equatable, Sendable {
        public var uids: [UInt32]   // real, effective, saved
        public var gids: [UInt32]
        public var supplementaryGroups: Int
        public var noNewPrivs: Bool
        public var effective: UInt64, permitted: UInt64, inheritable: UInt64, bounding: UInt64
    }

    public static func current() -> Credentials? {
        var c = clinux_credentials()
        guard clinux_get_credentials(&c) == 0, let caps = capabilities() else { return nil }
        return Credentials(uids: [c.uid.0, c.uid.1, c.uid.2], gids: [c.gid.0, c.gid.1, c.gid.2],
                           supplementaryGroups: Int(c.groups), noNewPrivs: c.no_new_privs == 1,
                           effective: caps.effective, permitted: caps.permitted,
                           inheritable: caps.inheritable, bounding: c.bounding)
    }

    private static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
