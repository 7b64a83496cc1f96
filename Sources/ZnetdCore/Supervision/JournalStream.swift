import CSystemd
import Glibc

/// Where a backend's stdout and stderr go: a stream of its own into the journal when znetd
/// logs to the journal, so its lines carry its own SYSLOG_IDENTIFIER; znetd's stderr otherwise.
///
/// One fd serves both stdout and stderr, as with systemd's StandardOutput=journal. Hand it to
/// `SpawnRequest` and call `closeParentCopy()` once the child has been spawned.
public struct JournalStream: Sendable {
    /// The fd the child's stdout and stderr are set to.
    public let fd: Int32
    /// True when `fd` was opened for the child (znetd's stderr is never closed).
    public let isOwned: Bool
    /// "JOURNAL_STREAM=dev:ino" for a journal stream, so the child's own logging libraries
    /// know their stderr is the journal (systemd sets the same); nil otherwise.
    public let environmentEntry: String?

    /// znetd's own stderr, for both streams.
    public static let znetdStderr = JournalStream(fd: STDERR_FILENO, isOwned: false, environmentEntry: nil)

    /// A new journal stream named `identifier` (e.g. "znetd-web", or the program's basename)
    /// at priority info, with `<N>` line prefixes honoured, when `destination` is the journal;
    /// `znetdStderr` otherwise.
    public static func open(
        identifier: String,
        destination: JournalLogHandler.Destination = JournalLogHandler.detect()
    ) throws(SystemError) -> JournalStream {
        guard destination == .journal else { return .znetdStderr }
        let fd = sd_journal_stream_fd(identifier, LOG_INFO, 1)
        guard fd >= 0 else {
            throw SystemError("sd_journal_stream_fd", errno: -fd, subject: "for '\(identifier)' (is systemd-journald running?)")
        }
        var info = stat()
        let entry = fstat(fd, &info) == 0 ? "JOURNAL_STREAM=\(info.st_dev):\(info.st_ino)" : nil
        return JournalStream(fd: fd, isOwned: true, environmentEntry: entry)
    }

    private init(fd: Int32, isOwned: Bool, environmentEntry: String?) {
        self.fd = fd
        self.isOwned = isOwned
        self.environmentEntry = environmentEntry
    }

    /// Closes znetd's copy of an opened stream; the child keeps its own. Call once.
    public func closeParentCopy() {
        if isOwned { close(fd) }
    }
}
