import CZnetdLinux
import Glibc

/// The client side of the control socket, for the `znetd status`, `register` and `unregister`
/// commands: blocking, one request and one reply at a time.
public final class ControlClient {
    public let path: String
    private let fd: Int32
    private var buffered: [UInt8] = []

    /// Where generated units put their control sockets: `RuntimeDirectory=znetd/control/UNIT`.
    public static let runtimeDirectory = "/run/znetd/control"

    public init(path: String) throws(SystemError) {
        self.path = path
        guard let address = SocketAddress(unixPath: path) else {
            throw SystemError("connect", errno: ENAMETOOLONG, subject: path)
        }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        if address.withSockaddr({ connect(fd, $0, $1) }) != 0 {
            let error = SystemError("connect", subject: path)
            Glibc.close(fd)
            throw error
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends one request and waits for its reply.
    public func request(_ request: JSONValue) throws -> JSONValue {
        let line = Array((request.encoded + "\n").utf8)
        var offset = 0
        while offset < line.count {
            let n = line.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, ZNETD_MSG_NOSIGNAL) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("send", subject: path)
            }
            offset += n
        }
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let reply = Array(buffered[..<newline])
                buffered.removeSubrange(...newline)
                return try JSONParser.parse(reply)
            }
            var chunk = [UInt8](repeating: 0, count: 16 << 10)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffered += chunk[0..<n]
            } else if n == 0 {
                throw SystemError("recv", errno: ECONNRESET, subject: "\(path) (znetd closed the connection)")
            } else if errno != EINTR {
                throw SystemError("recv", subject: path)
            }
        }
    }

    /// Blocks until znetd closes the connection (it stopped) or a signal ends the process.
    public func waitUntilClosed() {
        var byte: UInt8 = 0
        while true {
            let n = recv(fd, &byte, 1, 0)
            if n == 0 || (n < 0 && errno != EINTR) { return }
        }
    }

    /// Every `UNIT/control.sock` under `directory`, sorted.
    public static func discoverSockets(in directory: String = ControlClient.runtimeDirectory) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            let path = "\(directory)/\(name)/\(ControlPlane.socketFileName)"
            var info = stat()
            if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK { found.append(path) }
        }
        return found.sorted()
    }
}
