import CZnetdLinux
import Glibc
import Testing
@testable import ZnetdCore

/// Swift Testing has an ExitStatus of its own (for exit tests); these tests mean znetd's.
typealias ExitStatus = ZnetdCore.ExitStatus

/// Running children in tests: capture output, wait, and look at processes in /proc.
enum Run {
    struct Result {
        var pid: pid_t
        var output: String
        var status: ExitStatus?
    }

    /// Spawns `request` with stdout into a pipe, reads it to the end and waits for the child.
    static func capture(_ request: SpawnRequest) throws -> Result {
        let pipe = try Pipe()
        var request = request
        request.standardOutput = pipe.write
        let child = try ChildProcess.spawn(request)
        pipe.closeWrite()
        let output = pipe.readAll()
        pipe.closeRead()
        return Result(pid: child.pid, output: output, status: wait(child.pid))
    }

    /// waitpid for one child.
    static func wait(_ pid: pid_t) -> ExitStatus? {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            if errno != EINTR { return nil }
        }
        return ExitStatus(waitStatus: raw)
    }

    /// Blocks until `pid` (our child) has ended, without reaping it (WNOWAIT).
    static func waitUntilExited(_ pid: pid_t) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
    }

    /// Polls until `pid` is gone or a zombie (dead, not yet reaped by its parent), up to 5 s.
    static func waitUntilDead(_ pid: pid_t) -> Bool {
        for _ in 0..<500 {
            let state = state(of: pid)
            if state == nil || state == "Z" { return true }
            usleep(10_000)
        }
        return false
    }

    static func reapIfOurs(_ pid: pid_t) {
        if parent(of: pid) == getpid() { _ = wait(pid) }
    }

    /// The state letter from /proc/<pid>/stat ("R", "S", "Z", ...), nil if there is no such process.
    static func state(of pid: pid_t) -> String? {
        statFields(pid).map { $0[0] }
    }

    static func parent(of pid: pid_t) -> pid_t? {
        statFields(pid).flatMap { pid_t($0[1]) }
    }

    /// Our children that are zombies.
    static func zombies() -> [pid_t] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var found: [pid_t] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard let pid = pid_t(name), let fields = statFields(pid) else { continue }
            if fields[0] == "Z" && pid_t(fields[1]) == getpid() { found.append(pid) }
        }
        return found
    }

    /// The fields of /proc/<pid>/stat after the command name: state, ppid, ...
    private static func statFields(_ pid: pid_t) -> [String]? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        // The command name is in parentheses and may contain spaces: split after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ").map(String.init)
    }
}

/// A pipe whose write end is given to a child; both ends close-on-exec and blocking.
final class Pipe {
    let read: Int32
    let write: Int32
    private var readOpen = true
    private var writeOpen = true

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SystemError("pipe") }
        read = fds[0]
        write = fds[1]
        znetd_set_cloexec(read, 1)
        znetd_set_cloexec(write, 1)
    }

    func closeWrite() {
        if writeOpen { close(write) }
        writeOpen = false
    }

    func closeRead() {
        if readOpen { close(read) }
        readOpen = false
    }

    func readAll() -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = Glibc.read(read, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Up to and including the first newline (descendants may keep the pipe open for long).
    func readLine() -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = Glibc.read(read, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(byte)
            if byte == UInt8(ascii: "\n") { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A TCP socket listening on 127.0.0.1 (any port), close-on-exec like znetd's.
struct Listener {
    let fd: Int32

    init() throws {
        fd = znetd_socket(AF_INET, ZNETD_SOCK_STREAM)
        guard fd >= 0 else { throw SystemError("socket") }
        let address = SocketAddress(ip: "127.0.0.1", port: 0)!
        let bound = address.withSockaddr { bind(fd, $0, $1) }
        guard bound == 0, listen(fd, 16) == 0 else { throw SystemError("bind/listen") }
    }

    /// The socket's inode, as /proc/<pid>/fd/N shows it: socket:[inode].
    var inode: UInt64 {
        var info = stat()
        fstat(fd, &info)
        return UInt64(info.st_ino)
    }

    func close() { Glibc.close(fd) }
}

struct TemporaryFile {
    let path: String

    init(contents: String, mode: mode_t) throws {
        var template = Array("/tmp/znetd-test-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw SystemError("mkstemp") }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var bytes = Array(contents.utf8)
        _ = Glibc.write(fd, &bytes, bytes.count)
        fchmod(fd, mode)
        close(fd)
    }

    func remove() { unlink(path) }
}

struct TemporaryDirectory {
    let path: String

    /// World-searchable, so another user can enter it.
    init() throws {
        var template = Array("/tmp/znetd-test-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw SystemError("mkdtemp") }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(path, 0o755)
    }

    func remove() { rmdir(path) }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }
}
