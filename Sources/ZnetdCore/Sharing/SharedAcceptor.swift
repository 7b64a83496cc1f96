import CZnetdLinux
import Glibc
import Logging

/// Accepts connections from one socket of a shared listener on one event loop, and hands each
/// to an ``HTTPConnection`` (http mode) or an ``SNIConnection`` (tcp mode).
///
/// Unlike a service's ``Acceptor`` it has no connection limit of its own: each routed request
/// counts against its service's max_connections when it reaches a backend.
final class SharedAcceptor: EventSource {
    let socket: ListenSocket
    let listener: SharedListener
    unowned let worker: Worker
    private var isWatching = false
    private var isRetired = false
    private var retryTimer: LoopTimer?

    init(socket: ListenSocket, listener: SharedListener, worker: Worker) {
        self.socket = socket
        self.listener = listener
        self.worker = worker
    }

    func watch() {
        guard !isWatching, !isRetired, !isClosed else { return }
        isWatching = worker.loop.register(
            socket.fd, source: self, side: 0, events: ZNETD_EPOLLIN | ZNETD_EPOLLEXCLUSIVE)
    }

    func retire() {
        isRetired = true
        retryTimer?.cancel()
        if isWatching { worker.loop.unregister(socket.fd) }
        isWatching = false
        worker.loop.release(self)
    }

    override func handle(events: UInt32, side: Int) {
        for _ in 0..<Acceptor.batch {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { znetd_accept(socket.fd, $0, &length) }
            }
            if fd < 0 {
                switch errno {
                case EAGAIN: return
                case EINTR, ECONNABORTED, EPROTO: continue
                default:
                    listener.logger.warning("accept on \(socket) failed: \(errnoDescription(errno)); retrying in 100ms")
                    worker.loop.unregister(socket.fd)
                    isWatching = false
                    retryTimer = worker.loop.schedule(after: 100_000_000) { [weak self] in self?.watch() }
                    return
                }
            }
            let peer = length > 0 ? SocketAddress(raw: &storage, length: length) : nil
            let config = listener.config
            if !config.clientAccess.isEmpty, let bytes = peer?.ipBytes, !config.clientAccess.admits(bytes) {
                Glibc.close(fd)
                listener.logger.debug("refused \(peer.map { "\($0)" } ?? "?"): not allowed by allow:/deny:")
                continue
            }
            listener.accepted.add(1, ordering: .relaxed)
            switch config.mode {
            case .http:
                HTTPConnection(worker: worker, listener: listener, client: fd, peer: peer).start()
            case .tcp:
                SNIConnection(worker: worker, listener: listener, client: fd, peer: peer).start()
            }
        }
    }
}
