public import Glibc

/// The user and groups a child process runs as, resolved from a command's `user` and `group`
/// (names or numbers) in znetd, before forking: the user database (NSS) cannot be read
/// between fork and exec.
public struct ProcessIdentity: Sendable, Hashable, CustomStringConvertible {
    public var uid: uid_t
    public var gid: gid_t
    /// What setgroups sets: the user's groups as getgrouplist lists them (the primary group
    /// included), like initgroups would, or just `gid` for a user without a passwd entry.
    public var supplementaryGroups: [gid_t]
    /// The user as the configuration named it, for messages.
    public var userName: String

    public init(uid: uid_t, gid: gid_t, supplementaryGroups: [gid_t], userName: String) {
        self.uid = uid
        self.gid = gid
        self.supplementaryGroups = supplementaryGroups
        self.userName = userName
    }

    public var description: String { "\(userName) (uid \(uid), gid \(gid))" }

    /// The identity for `user` and `group`, or nil when both are nil (the child keeps znetd's).
    ///
    /// - user only: the user's primary group and its supplementary groups.
    /// - user and group: that group instead of the primary one, plus the user's groups.
    /// - group only: znetd's own uid with only that group.
    ///
    /// A number is a uid or gid even without a database entry; a numeric user without one
    /// needs `group` too.
    public static func resolve(user: String?, group: String?) throws(SpawnError) -> ProcessIdentity? {
        if user == nil && group == nil { return nil }
        let gid = try group.map { (name) throws(SpawnError) in try groupID(name) }
        guard let user else {
            let uid = geteuid()
            return ProcessIdentity(uid: uid, gid: gid!, supplementaryGroups: [gid!], userName: "\(uid)")
        }
        let account = try userAccount(user)
        guard let primary = gid ?? account.primaryGroup else {
            throw SpawnError(.userWithoutPrimaryGroup(account.uid))
        }
        var groups = [primary]
        if let name = account.name {
            groups = try groupList(user: name, primary: primary)
        }
        return ProcessIdentity(uid: account.uid, gid: primary, supplementaryGroups: groups, userName: user)
    }

    // MARK: User database

    /// A passwd entry, or just a uid for a number the database does not know.
    struct Account {
        var uid: uid_t
        var primaryGroup: gid_t?
        /// The database name, for getgrouplist; nil without an entry.
        var name: String?
    }

    static func userAccount(_ user: String) throws(SpawnError) -> Account {
        let number = uid_t(exactly: UInt64(user) ?? UInt64.max)
        let found: Account? = try lookUp(passwd(), stage: .lookUpUser(user)) { entry, buffer, size, result in
            if let number { return getpwuid_r(number, &entry, buffer, size, &result) }
            return getpwnam_r(user, &entry, buffer, size, &result)
        } read: { entry in
            Account(uid: entry.pw_uid, primaryGroup: entry.pw_gid, name: String(cString: entry.pw_name))
        }
        if let found { return found }
        if let number { return Account(uid: number, primaryGroup: nil, name: nil) }
        throw SpawnError(.lookUpUser(user))
    }

    static func groupID(_ group: String) throws(SpawnError) -> gid_t {
        if let number = gid_t(exactly: UInt64(group) ?? UInt64.max) { return number }
        let found: gid_t? = try lookUp(Glibc.group(), stage: .lookUpGroup(group)) { entry, buffer, size, result in
            getgrnam_r(group, &entry, buffer, size, &result)
        } read: { entry in
            entry.gr_gid
        }
        guard let found else { throw SpawnError(.lookUpGroup(group)) }
        return found
    }

    /// Runs a getpwnam_r-style call with a buffer that grows while it is too small. nil when
    /// the database has no such entry.
    private static func lookUp<Entry, Value>(
        _ empty: Entry,
        stage: SpawnError.Stage,
        _ call: (inout Entry, UnsafeMutablePointer<CChar>, Int, inout UnsafeMutablePointer<Entry>?) -> Int32,
        read: (Entry) -> Value
    ) throws(SpawnError) -> Value? {
        var size = 1024
        while true {
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            var entry = empty
            var result: UnsafeMutablePointer<Entry>?
            let rc = call(&entry, buffer, size, &result)
            if rc == ERANGE && size < 1 << 20 {
                size *= 2
                continue
            }
            // These codes mean "not found" for some NSS modules (getpwnam_r(3)).
            if rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM {
                // `result` pointed at `entry`, whose strings live in `buffer`: read them now.
                return result == nil ? nil : read(entry)
            }
            throw SpawnError(stage, errno: rc)
        }
    }

    /// getgrouplist: the groups `user` belongs to, `primary` first.
    static func groupList(user: String, primary: gid_t) throws(SpawnError) -> [gid_t] {
        var count: Int32 = 32
        while count <= 65536 {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var capacity = count
            if getgrouplist(user, primary, &groups, &capacity) >= 0 {
                return Array(groups.prefix(Int(capacity)))
            }
            // Too small: `capacity` is now the number needed.
            count = max(capacity, count * 2)
        }
        throw SpawnError(.lookUpSupplementaryGroups(user: user), errno: ERANGE)
    }
}
