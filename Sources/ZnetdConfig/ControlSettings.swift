/// `control:`: the control socket `znetd status`, `znetd register` and `znetd unregister`
/// talk to.
///
/// Who may do what is decided per request from the peer's SO_PEERCRED: reading the status
/// takes root, znetd's own uid or membership of `group`; changing registrations takes root,
/// znetd's own uid, or a uid in `allowUsers`. The socket file is 0600 (0660 with `group`), so
/// other users cannot even connect.
public struct ControlSettings: Sendable, Hashable {
    /// Where the socket is; nil: `--control-socket`, else `$RUNTIME_DIRECTORY/control.sock`.
    public var socket: String?
    /// A group (name or number) whose members may connect and read the status.
    public var group: String?
    /// Users (names or numbers) who may also register and unregister.
    public var allowUsers: [String]

    public init(socket: String? = nil, group: String? = nil, allowUsers: [String] = []) {
        self.socket = socket
        self.group = group
        self.allowUsers = allowUsers
    }
}

extension SchemaDecoder {
    static let controlKeys = ["socket", "group", "allow_uids"]

    /// `control: {socket, group, allow_uids}`.
    mutating func control(_ entry: Entry) -> ControlSettings? {
        let errorCount = errors.count
        var settings = ControlSettings()
        for field in entries(of: entry.value, path: entry.path, validKeys: Self.controlKeys) {
            switch field.key {
            case "socket":
                settings.socket = value(field, expected: "an absolute path to a unix socket (at most 107 bytes)") { text in
                    text.hasPrefix("/") && text.utf8.count <= 107 && !text.hasSuffix("/") ? text : nil
                }
            case "group":
                settings.group = value(field, expected: "a group name or number") { isValidUserOrGroup($0) ? $0 : nil }
            case "allow_uids":
                settings.allowUsers = userList(field)
            default:
                preconditionFailure("'\(field.key)' is in controlKeys but has no decoder")
            }
        }
        return errors.count == errorCount ? settings : nil
    }

    /// A user name or number, or a list of them.
    private mutating func userList(_ entry: Entry) -> [String] {
        let expected = "a user name or number, or a list of them"
        guard case .sequence(let items) = entry.value.content else {
            return value(entry, expected: expected) { isValidUserOrGroup($0) ? $0 : nil }.map { [$0] } ?? []
        }
        var users: [String] = []
        for (index, item) in items.enumerated() {
            let itemEntry = Entry(key: entry.key, keyNode: entry.keyNode, value: item,
                                  path: entry.path.keyPath(index: index))
            if let user = value(itemEntry, expected: "a user name or number", parse: { isValidUserOrGroup($0) ? $0 : nil }) {
                users.append(user)
            }
        }
        return users
    }
}
