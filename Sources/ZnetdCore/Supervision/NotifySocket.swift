import CZnetdLinux
import Glibc

/// The NOTIFY_SOCKET znetd gives a backend so it can say READY=1 (ready: notify).
///
/// A datagram socket in the abstract namespace, one per service, with SO_PASSCRED so every
/// message carries its sender's pid: only processes in the backend's process group count,
/// as with NotifyAccess=all on a unit.
final class NotifySocket: EventSource {
    /// The value of $NOTIFY_SOCKET for the backend ("@znetd/PID/SERVICE").
    let address: String
    private let fd: Int32
    private let onReady: () -> Void
    /// The process group whose messages count; nil: accept any sender (a unit's own pid space).
    var allowedGroup: Int32?

    init(service: String, loop: EventLoop, onReady: @escaping () -> Void) throws(SystemError) {
        address = "@znetd/\(getpid())/\(service)"
        guard let sockaddr = SocketAddress(unixPath: address) else {
            throw SystemError("bind", errno: ENAMETOOLONG, subject: address)
        }
        fd = try retryingEINTR("socket") { znetd_notify_socket() }
        self.onReady = onReady
        super.init()
        if sockaddr.withSockaddr({ bind(fd, $0, $1) }) != 0 {
            let error = SystemError("bind", subject: address)
            Glibc.close(fd)
            throw error
        }
        loop.register(fd, source: self, side: 0, events: ZNETD_EPOLLIN)
    }

    func close(on loop: EventLoop) {
        loop.unregister(fd)
        Glibc.close(fd)
        loop.release(self)
    }

    override func handle(events: UInt32, side: Int) {
        var buffer = [CChar](repeating: 0, count: 4096)
        while true {
            var sender: pid_t = 0
            let n = znetd_notify_receive(fd, &buffer, buffer.count - 1, &sender)
            if n < 0 { return }
            guard accepts(sender) else { continue }
            let text = String(decoding: buffer.prefix(min(Int(n), buffer.count - 1)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.split(separator: "\n").contains("READY=1") { onReady() }
        }
    }

    private func accepts(_ sender: pid_t) -> Bool {
        guard let group = allowedGroup else { return true }
        return sender == group || getpgid(sender) == group
    }
}
