import CZnetdLinux
import Glibc
import ZnetdConfig

/// One active check of one backend over a socket, on the control loop: `tcp` succeeds when
/// the connect does; `http` then sends `GET path` and matches the status line. Either gives up
/// after the check's timeout. The result arrives once, through `done`.
final class HealthProbe: EventSource {
    enum Kind {
        case tcp
        case http(path: String, expect: String)
    }

    private let loop: EventLoop
    private let kind: Kind
    private let address: SocketAddress
    private var done: ((_ success: Bool, _ reason: String) -> Void)?
    private var fd: Int32 = -1
    private var timer: LoopTimer?
    private var connected = false
    private var request: [UInt8] = []
    private var response: [UInt8] = []
    /// A status line is short; anything longer without one is not HTTP.
    static let responseLimit = 4096

    init(loop: EventLoop, kind: Kind, address: SocketAddress,
         done: @escaping (_ success: Bool, _ reason: String) -> Void) {
        self.loop = loop
        self.kind = kind
        self.address = address
        self.done = done
        super.init()
    }

    func start(timeout: UInt64) {
        timer = loop.schedule(after: timeout) { [self] in
            finish(false, connected ? "no answer within \(formatDuration(.nanoseconds(Int64(timeout))))"
                   : "connect timed out after \(formatDuration(.nanoseconds(Int64(timeout))))")
        }
        fd = znetd_socket(address.family, ZNETD_SOCK_STREAM)
        guard fd >= 0 else { return finish(false, "socket: \(errnoDescription(errno))") }
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 && errno != EINPROGRESS && errno != EAGAIN {
            return finish(false, "connect: \(errnoDescription(errno))")
        }
        loop.register(fd, source: self, side: 0)
        if rc == 0 { becameConnected() }
    }

    override func handle(events: UInt32, side: Int) {
        guard fd >= 0 else { return }
        if !connected {
            guard events & (ZNETD_EPOLLOUT | ZNETD_EPOLLERR | ZNETD_EPOLLHUP) != 0 else { return }
            let error = znetd_get_socket_error(fd)
            guard error == 0 else { return finish(false, "connect: \(errnoDescription(error))") }
            becameConnected()
            if fd < 0 { return }
        }
        if events & (ZNETD_EPOLLOUT) != 0 { sendRequest() }
        if events & (ZNETD_EPOLLIN | ZNETD_EPOLLRDHUP | ZNETD_EPOLLHUP | ZNETD_EPOLLERR) != 0 { readResponse() }
    }

    private func becameConnected() {
        connected = true
        switch kind {
        case .tcp:
            finish(true, "connect succeeded")
        case .http(let path, _):
            let host = address.family == AF_UNIX ? "localhost" : address.host
            request = Array("GET \(path) HTTP/1.0\r\nHost: \(host)\r\nUser-Agent: znetd\r\nConnection: close\r\n\r\n".utf8)
            sendRequest()
        }
    }

    private func sendRequest() {
        guard !request.isEmpty, fd >= 0 else { return }
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent > 0 {
            request.removeFirst(sent)
        } else if sent < 0 && errno != EAGAIN && errno != EINTR {
            finish(false, "send: \(errnoDescription(errno))")
        }
    }

    private func readResponse() {
        guard case .http(_, let expect) = kind else { return }
        var buffer = [UInt8](repeating: 0, count: 1024)
        while fd >= 0 {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                response += buffer[..<count]
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                if let line = statusLine() { return judge(line, expect: expect) }
                return finish(false, count == 0 ? "connection closed before a status line"
                              : "recv: \(errnoDescription(errno))")
            } else {
                break
            }
            if let line = statusLine() { return judge(line, expect: expect) }
            if response.count > HealthProbe.responseLimit { return finish(false, "no HTTP status line") }
        }
    }

    private func statusLine() -> String? {
        guard let end = response.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return String(decoding: response[..<end], as: UTF8.self)
    }

    /// `HTTP/1.x NNN ...` against a pattern such as `2xx`.
    private func judge(_ line: String, expect: String) {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count >= 2, words[0].hasPrefix("HTTP/"), words[1].count == 3 else {
            return finish(false, "not an HTTP status line: \(line.prefix(60))")
        }
        let status = String(words[1])
        let matches = zip(status, expect).allSatisfy { actual, wanted in wanted == "x" || actual == wanted }
        finish(matches, matches ? "HTTP \(status)" : "HTTP status \(status), expected \(expect)")
    }

    private func finish(_ success: Bool, _ reason: String) {
        timer?.cancel()
        if fd >= 0 {
            loop.unregister(fd)
            Glibc.close(fd)
            fd = -1
        }
        loop.release(self)
        let report = done
        done = nil
        report?(success, reason)
    }
}
