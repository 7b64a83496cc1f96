import CZnetdLinux
import Glibc

/// A listening socket of the control plane (the control socket, the metrics endpoint), served
/// on the daemon's control loop: never on an event loop of the data plane.
///
/// Each accepted connection is handed to `accepted`, which makes the connection object (or
/// closes the descriptor). At most `maximumConnections` are open at once; beyond that, new
/// ones are closed at once, so a flood of scrapers or status calls cannot exhaust znetd's
/// descriptors.
final class ControlPlaneListener: EventSource {
    let fd: Int32
    private let loop: EventLoop
    private let accepted: (Int32) -> ControlPlaneConnection?
    private var open: [ObjectIdentifier: ControlPlaneConnection] = [:]
    /// Enough for every `register --wait` of a host's services plus a few status calls.
    static let maximumConnections = 256

    init(fd: Int32, loop: EventLoop, accepted: @escaping (Int32) -> ControlPlaneConnection?) {
        self.fd = fd
        self.loop = loop
        self.accepted = accepted
        super.init()
        loop.register(fd, source: self, side: 0, events: ZNETD_EPOLLIN)
    }

    override func handle(events: UInt32, side: Int) {
        while true {
            let client = znetd_accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno != EAGAIN {
                    // Out of descriptors: the socket stays readable; look again in a moment
                    // rather than spin the control loop.
                    loop.unregister(fd)
                    loop.schedule(after: 100_000_000) { [weak self] in
                        guard let self, !isClosed else { return }
                        loop.register(fd, source: self, side: 0, events: ZNETD_EPOLLIN)
                    }
                }
                return
            }
            guard open.count < ControlPlaneListener.maximumConnections, let connection = accepted(client) else {
                Glibc.close(client)
                continue
            }
            open[ObjectIdentifier(connection)] = connection
            connection.onClose = { [unowned self] in open[ObjectIdentifier($0)] = nil }
            connection.start()
        }
    }
}

/// One connection of the control plane: buffered, non-blocking reads and writes on the
/// control loop. Subclasses parse what `received` gets and answer with `send`.
class ControlPlaneConnection: EventSource {
    let fd: Int32
    let loop: EventLoop
    private var output: [UInt8] = []
    private var closeWhenSent = false
    private(set) var closed = false
    var onClose: ((ControlPlaneConnection) -> Void)?
    /// Input kept while waiting for the rest of a request.
    var input: [UInt8] = []
    /// A request larger than this is refused and the connection closed.
    class var maximumRequest: Int { 64 << 10 }
    /// Replies a peer does not read pile up to this much; then it is cut off.
    static let maximumPendingOutput = 4 << 20

    init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    func start() {
        loop.register(fd, source: self, side: 0)
    }

    override func handle(events: UInt32, side: Int) {
        if events & (ZNETD_EPOLLOUT | ZNETD_EPOLLERR | ZNETD_EPOLLHUP) != 0 { flush() }
        guard !closed else { return }
        if events & (ZNETD_EPOLLIN | ZNETD_EPOLLRDHUP | ZNETD_EPOLLHUP | ZNETD_EPOLLERR) != 0 { readAll() }
    }

    private func readAll() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !closed {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                input += buffer[0..<n]
                received()
                if input.count > Self.maximumRequest {
                    input.removeAll()
                    requestTooLarge()
                    return
                }
            } else if n == 0 {
                peerFinished()
                return
            } else if errno == EINTR {
                continue
            } else {
                if errno != EAGAIN { close() }
                return
            }
        }
    }

    /// New bytes are in `input`.
    func received() {}

    /// The request passed `maximumRequest`.
    func requestTooLarge() { close() }

    /// The peer shut down its side: by default, finish what is being sent, then close.
    func peerFinished() { finish() }

    func send(_ bytes: [UInt8]) {
        guard !closed else { return }
        output += bytes
        flush()
        if output.count > Self.maximumPendingOutput { close() }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Closes once everything queued is sent.
    func finish() {
        closeWhenSent = true
        flush()
    }

    private func flush() {
        while !output.isEmpty && !closed {
            let n = output.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, ZNETD_MSG_NOSIGNAL) }
            if n > 0 {
                output.removeFirst(n)
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && errno == EAGAIN {
                return
            } else {
                close()
                return
            }
        }
        if output.isEmpty && closeWhenSent { close() }
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.unregister(fd)
        Glibc.close(fd)
        loop.release(self)
        onClose?(self)
        connectionClosed()
    }

    /// Called once, after the descriptor is closed.
    func connectionClosed() {}
}
