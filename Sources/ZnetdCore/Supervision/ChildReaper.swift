import CZnetdLinux
public import Glibc

/// Reaps every child of znetd when SIGCHLD arrives, and tells the watcher of each one it
/// started how it ended.
///
/// "Every": backends' orphaned descendants are re-parented to znetd once it is a subreaper
/// (`becomeSubreaper`), and are reaped here too, so none stays a zombie. The price: no other
/// code in znetd may wait for its own children, since `reap` takes them all.
///
/// Confined to the control loop, which receives SIGCHLD through `SignalSource`.
public final class ChildReaper {
    /// One process reaped by `reap`.
    public struct Reaped: Sendable, Hashable {
        public var pid: Glibc.pid_t
        public var status: ExitStatus
        /// False for processes nobody watched (descendants re-parented to znetd).
        public var wasWatched: Bool
    }

    private var watchers: [Glibc.pid_t: (ExitStatus) -> Void] = [:]

    public init() {}

    /// Makes znetd the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER): a
    /// backend's leftover processes become znetd's children when the backend ends, instead
    /// of PID 1's. Call once at start.
    public static func becomeSubreaper() throws(SystemError) {
        guard znetd_set_child_subreaper() == 0 else { throw SystemError("prctl(PR_SET_CHILD_SUBREAPER)") }
    }

    /// Calls `onExit` once, on the control loop, when `pid` has been reaped.
    public func watch(_ pid: Glibc.pid_t, onExit: @escaping (ExitStatus) -> Void) {
        watchers[pid] = onExit
    }

    /// Records the exit status on `child` (so it is no longer signalled), then calls `onExit`.
    public func watch(_ child: ChildProcess, onExit: @escaping (ExitStatus) -> Void) {
        watch(child.pid) { [child] status in
            child.exitStatus = status
            onExit(status)
        }
    }

    /// The number of processes watched and not yet reaped.
    public var watchedCount: Int { watchers.count }

    /// Reaps every child that has ended (waitpid(-1, WNOHANG) until none is left) and calls
    /// the watchers of those watched. Returns what it reaped, for logging strays.
    @discardableResult
    public func reap() -> [Reaped] {
        var reaped: [Reaped] = []
        while true {
            var raw: Int32 = 0
            let pid = waitpid(-1, &raw, WNOHANG)
            if pid == 0 { break }  // Children remain, none has ended.
            if pid < 0 {
                if errno == EINTR { continue }
                break  // ECHILD: no children at all.
            }
            guard let status = ExitStatus(waitStatus: raw) else { continue }
            let watcher = watchers.removeValue(forKey: pid)
            reaped.append(Reaped(pid: pid, status: status, wasWatched: watcher != nil))
            watcher?(status)
        }
        return reaped
    }
}
