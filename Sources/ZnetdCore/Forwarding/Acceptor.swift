import CZnetdLinux
import Glibc
import Logging

/// Accepts connections from one listening socket on one event loop.
///
/// Every loop watches every listening socket with EPOLLEXCLUSIVE, so the kernel wakes one loop
/// per burst and the loops share the accept work without a hand-off. At the service's
/// connection limit the acceptor takes itself off epoll, leaving further clients queued in the
/// kernel backlog (never accepted and closed), and comes back when a slot frees up.
final class Acceptor: EventSource {
    let socket: ListenSocket
    let service: ServiceRuntime
    unowned let worker: Worker
    private var isWatching = false
    /// Retired acceptors (service removed, daemon stopping) never watch again.
    private var isRetired = false
    private var retryTimer: LoopTimer?
    /// The backend holds the listening socket (hand_off): leave its clients to it.
    private var isHandedOff = false
    private var lastWarning: UInt64 = 0
    static let warningInterval: UInt64 = 10_000_000_000
    /// Accepts per wake-up before letting other work on the loop run.
    static let batch = 32

    init(socket: ListenSocket, service: ServiceRuntime, worker: Worker) {
        self.socket = socket
        self.service = service
        self.worker = worker
    }

    func watch() {
        guard !isWatching, !isRetired, !isClosed, !isHandedOff else { return }
        isWatching = worker.loop.register(
            socket.fd, source: self, side: 0, events: ZNETD_EPOLLIN | ZNETD_EPOLLEXCLUSIVE)
    }

    private func unwatch() {
        guard isWatching else { return }
        worker.loop.unregister(socket.fd)
        isWatching = false
    }

    /// Stops for good; the listening socket itself stays open (it may belong to systemd).
    func retire() {
        isRetired = true
        retryTimer?.cancel()
        unwatch()
        worker.loop.release(self)
    }

    override func handle(events: UInt32, side: Int) {
        if service.settings.config.onDemand?.handOff == true {
            // The first client stays in the backlog for the backend to accept.
            unwatch()
            service.gate.requestWake()
            return
        }
        for _ in 0..<Acceptor.batch {
            guard service.tryReserve() else { return pauseForLimit() }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { znetd_accept(socket.fd, $0, &length) }
            }
            if fd < 0 {
                let code = errno
                service.release()
                switch code {
                case EAGAIN, EINTR, ECONNABORTED, EPROTO:
                    if code == EAGAIN { return }
                    continue
                default:
                    // Out of fds or memory: back off instead of spinning on a readable socket;
                    // clients wait in the backlog meanwhile.
                    if worker.loop.now &- lastWarning > Acceptor.warningInterval || lastWarning == 0 {
                        lastWarning = worker.loop.now
                        service.logger.warning("accept on \(socket) failed: \(errnoDescription(code)); retrying every 100ms, clients wait in the backlog")
                    }
                    return pause(for: 100_000_000)
                }
            }
            let peer = length > 0 ? SocketAddress(raw: &storage, length: length) : nil
            guard service.admits(peer) else {
                // allow:/deny: (a generated .socket unit already has the kernel drop them).
                Glibc.close(fd)
                service.release()
                service.refusedClients.add(1, ordering: .relaxed)
                service.logger.debug("refused \(peer.map { "\($0)" } ?? "?"): not allowed by allow:/deny:")
                continue
            }
            service.accepted.add(1, ordering: .relaxed)
            Relay(worker: worker, service: service, client: fd, peer: peer).start()
        }
    }

    private func pauseForLimit() {
        unwatch()
        if service.markSaturated() { watch() }
    }

    private func pause(for nanoseconds: UInt64) {
        unwatch()
        retryTimer = worker.loop.schedule(after: nanoseconds) { [weak self] in self?.watch() }
    }

    /// The service has room again.
    func resume() { watch() }

    /// hand_off: the backend has the socket (true) or gave it back (false).
    func setHandedOff(_ handedOff: Bool) {
        isHandedOff = handedOff
        if handedOff { unwatch() } else { watch() }
    }
}
