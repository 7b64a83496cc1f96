import Glibc

/// Builds a child's environment from znetd's own: what znetd inherited minus the variables
/// that describe znetd itself to systemd, plus a command's additions.
public enum ChildEnvironment {
    /// Variables systemd sets for znetd's process alone. A child that inherited them would
    /// take znetd's sockets, notify systemd as if it were znetd, or log as znetd's stream.
    public static let znetdOnly: Set<String> = [
        "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
        "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC",
        "JOURNAL_STREAM", "SYSTEMD_EXEC_PID",
    ]

    /// znetd's environment without the `znetdOnly` variables.
    public static func inherited() -> [String] {
        withoutZnetdOnly(current())
    }

    /// znetd's environment as it is now ("NAME=value" each).
    public static func current() -> [String] {
        var entries: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            entries.append(String(cString: entry))
            cursor += 1
        }
        return entries
    }

    /// `entries` less the `znetdOnly` variables.
    public static func withoutZnetdOnly(_ entries: [String]) -> [String] {
        entries.filter { !znetdOnly.contains(name(of: $0)) }
    }

    /// `base` with `additions` applied in order: "NAME=value" replaces an earlier NAME in
    /// place, or is appended.
    public static func merging(_ base: [String], _ additions: [String]) -> [String] {
        var entries = base
        for addition in additions {
            let key = name(of: addition)
            if let index = entries.firstIndex(where: { name(of: $0) == key }) {
                entries[index] = addition
            } else {
                entries.append(addition)
            }
        }
        return entries
    }

    /// The NAME of "NAME=value" (the whole text when it has no '=').
    public static func name(of entry: String) -> String {
        String(entry.prefix { $0 != "=" })
    }
}
