public import Glibc

/// Why a child process could not be started: the step that failed, on what, and errno.
///
/// The description is the whole message for the operator, e.g. "cannot execute '/x': No
/// such file or directory" or "setuid(1001): Operation not permitted (...)".
public struct SpawnError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Stage: Sendable, Hashable {
        /// argv was empty.
        case emptyCommand
        /// A name without '/' was not found (errno 0) in these PATH directories.
        case findExecutable(name: String, searchPath: String)
        /// A path checked before starting (`znetd check`) is missing or not executable.
        case checkExecutable(path: String)
        /// The working directory checked before starting is missing or not a directory.
        case checkWorkingDirectory(path: String)
        /// No such user (errno 0), or the user database failed.
        case lookUpUser(String)
        /// No such group (errno 0), or the group database failed.
        case lookUpGroup(String)
        /// A numeric user with no passwd entry has no primary group to run as.
        case userWithoutPrimaryGroup(uid_t)
        /// getgrouplist for the user's supplementary groups.
        case lookUpSupplementaryGroups(user: String)
        /// A socket name for LISTEN_FDNAMES is empty, too long, or contains ':'.
        case handOffName(String)
        /// Opening /dev/null for a standard stream nobody gave.
        case openNullDevice
        /// The pipe the child reports failures on.
        case createReportPipe
        case fork
        /// Reading the child's failure report.
        case readReport
        case createSession
        /// Setting up `childFD` in the child from znetd's `parentFD` (-1: the report pipe).
        case redirect(childFD: Int32, parentFD: Int32)
        case closeDescriptors
        case setGroups([gid_t])
        case setGID(gid_t)
        case setUID(uid_t)
        case changeDirectory(String)
        case execute(String)
    }

    public var stage: Stage
    /// 0 when no system call failed (e.g. no such user).
    public var errno: Int32

    public init(_ stage: Stage, errno: Int32 = 0) {
        self.stage = stage
        self.errno = errno
    }

    public var description: String {
        let reason = errnoDescription(errno)
        switch stage {
        case .emptyCommand:
            return "cannot run an empty command: give at least the program"
        case .findExecutable(let name, let searchPath):
            return "cannot run '\(name)': not found in PATH (\(searchPath)); give its absolute path or set PATH in the environment"
        case .checkExecutable(let path):
            return "cannot execute '\(path)': \(errno == EISDIR ? "is a directory" : reason)"
        case .checkWorkingDirectory(let path):
            return "working directory '\(path)': \(errno == ENOTDIR ? "not a directory" : reason)"
        case .lookUpUser(let name):
            return errno == 0 ? "no such user '\(name)'" : "cannot look up user '\(name)': \(reason)"
        case .lookUpGroup(let name):
            return errno == 0 ? "no such group '\(name)'" : "cannot look up group '\(name)': \(reason)"
        case .userWithoutPrimaryGroup(let uid):
            return "user \(uid) has no passwd entry, so no primary group: set group too"
        case .lookUpSupplementaryGroups(let user):
            return "cannot list the groups of user '\(user)': \(reason)"
        case .handOffName(let name):
            return "cannot pass socket name '\(name)' in LISTEN_FDNAMES: names must be 1 to 255 printable characters without ':'"
        case .openNullDevice:
            return "open('/dev/null'): \(reason)"
        case .createReportPipe:
            return "pipe2 for the child's error report: \(reason)"
        case .fork:
            return "fork: \(reason)"
        case .readReport:
            return "reading the child's error report: \(reason)"
        case .createSession:
            return "setsid: \(reason)"
        case .redirect(let childFD, let parentFD):
            return parentFD < 0
                ? "moving the error report pipe in the child: \(reason)"
                : "giving fd \(parentFD) to the child as fd \(childFD): \(reason)"
        case .closeDescriptors:
            return "closing inherited fds in the child: \(reason)"
        case .setGroups(let groups):
            return "setgroups(\(groups.map { "\($0)" }.joined(separator: ","))): \(reason)\(Self.privilegeHint(errno))"
        case .setGID(let gid):
            return "setgid(\(gid)): \(reason)\(Self.privilegeHint(errno))"
        case .setUID(let uid):
            return "setuid(\(uid)): \(reason)\(Self.privilegeHint(errno))"
        case .changeDirectory(let path):
            return "chdir('\(path)'): \(reason)"
        case .execute(let path):
            return "cannot execute '\(path)': \(reason)"
        }
    }

    private static func privilegeHint(_ code: Int32) -> String {
        code == EPERM ? " (only a znetd running as root can run commands as another user or group)" : ""
    }
}
