import CSystemd
public import Logging
import Glibc

/// A swift-log handler that writes native journal entries when stderr is connected to the
/// journal, and `<N>`-prefixed lines on stderr otherwise (which journald and systemd's own
/// tools also read as priorities).
///
/// Metadata becomes journal fields: a key `bytes_in` is sent as `ZNETD_BYTES_IN`, so
/// `journalctl ZNETD_SERVICE=web` selects one service's records.
public struct JournalLogHandler: LogHandler {
    public enum Destination: Sendable { case journal, stderr }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let destination: Destination
    private let identifier: String

    public init(identifier: String = "znetd", level: Logger.Level, destination: Destination = JournalLogHandler.detect()) {
        self.identifier = identifier
        self.logLevel = level
        self.destination = destination
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// `.journal` when $JOURNAL_STREAM names the device and inode of our stderr.
    public static func detect() -> Destination {
        guard let stream = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return .stderr }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return .stderr }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return .stderr }
        return UInt64(info.st_dev) == dev && UInt64(info.st_ino) == ino ? .journal : .stderr
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let priority = Self.syslogPriority(event.level)
        switch destination {
        case .journal:
            sendToJournal(event, priority: priority, fields: fields)
        case .stderr:
            writeLine(event, priority: priority, fields: fields)
        }
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Journal field names allow A-Z, 0-9 and '_', and must not start with a digit or '_'.
    static func fieldName(_ key: String) -> String {
        var name = "ZNETD_"
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z": name.unicodeScalars.append(Unicode.Scalar(scalar.value - 32)!)
            case "A"..."Z", "0"..."9": name.unicodeScalars.append(scalar)
            default: name.append("_")
            }
        }
        return String(name.prefix(64))
    }

    private func sendToJournal(_ event: LogEvent, priority: Int, fields: Logger.Metadata) {
        var entries = [
            "MESSAGE=\(event.message)",
            "PRIORITY=\(priority)",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
        ]
        if let error = event.error { entries.append("ZNETD_ERROR=\(error)") }
        for (key, value) in fields { entries.append("\(Self.fieldName(key))=\(value)") }
        // sd_journal_sendv copies the iovecs; the strings only need to live for the call.
        var buffers = entries.map { Array($0.utf8) }
        var vectors: [iovec] = []
        vectors.reserveCapacity(buffers.count)
        for i in buffers.indices {
            buffers[i].withUnsafeMutableBytes { raw in
                vectors.append(iovec(iov_base: raw.baseAddress, iov_len: raw.count))
            }
        }
        // The pointers above stay valid: `buffers` is not mutated again before the call.
        let rc = withExtendedLifetime(buffers) { sd_journal_sendv(vectors, Int32(vectors.count)) }
        if rc < 0 { writeLine(event, priority: priority, fields: fields) }
    }

    private func writeLine(_ event: LogEvent, priority: Int, fields: Logger.Metadata) {
        var line = "<\(priority)>\(event.message)"
        if !fields.isEmpty {
            for key in fields.keys.sorted() { line += " \(key)=\(fields[key]!)" }
        }
        if let error = event.error { line += " error=\(error)" }
        line += "\n"
        // One write per line, so lines from several threads never interleave.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
