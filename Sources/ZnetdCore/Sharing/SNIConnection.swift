import CZnetdLinux
import Glibc
import Logging
import ZnetdHTTP

/// A new connection on a shared tcp listener, until its TLS ClientHello names a server: the
/// bytes are peeked (MSG_PEEK, so they stay in the socket for the backend), the server name is
/// routed (exact, then the longest *.suffix, then a route without host), and the connection
/// becomes an ordinary ``Relay`` of that service, spliced as any other. No route, no TLS, a
/// hello larger than ``peekLimit`` or slower than ``peekTimeout``: the connection is closed.
final class SNIConnection: EventSource, @unchecked Sendable {
    unowned let worker: Worker
    let listener: SharedListener
    private let client: Int32
    private let peer: SocketAddress?
    private var timer: LoopTimer?
    private var isDone = false

    static let peekLimit = 16 * 1024
    static let peekTimeout: UInt64 = 10_000_000_000

    init(worker: Worker, listener: SharedListener, client: Int32, peer: SocketAddress?) {
        self.worker = worker
        self.listener = listener
        self.client = client
        self.peer = peer
    }

    func start() {
        listener.active.add(1, ordering: .relaxed)
        worker.loop.register(client, source: self, side: 0, events: ZNETD_EPOLLIN | ZNETD_EPOLLRDHUP | ZNETD_EPOLLET)
        timer = worker.loop.schedule(after: Self.peekTimeout) { [unowned self] in
            timer = nil
            finish(closing: "no TLS ClientHello within \(Self.peekTimeout / 1_000_000_000)s")
        }
        peek()
    }

    override func handle(events: UInt32, side: Int) { peek() }

    private func peek() {
        guard !isDone else { return }
        let buffer = worker.loop.scratch
        let count = recv(client, buffer.baseAddress, min(buffer.count, Self.peekLimit), Int32(MSG_PEEK))
        if count == 0 { return finish(closing: "closed before its ClientHello") }
        if count < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            return finish(closing: errnoDescription(errno))
        }
        switch peekClientHello(UnsafeRawBufferPointer(rebasing: buffer[..<count])) {
        case .incomplete:
            // Edge-triggered: the next segment raises a new edge. A full buffer never completes.
            if count >= min(buffer.count, Self.peekLimit) { finish(closing: "ClientHello larger than \(Self.peekLimit) bytes") }
        case .notTLS:
            finish(closing: "not a TLS ClientHello")
        case .hello(let serverName):
            route(serverName)
        }
    }

    private func route(_ serverName: String?) {
        guard let name = listener.routeTable.service(host: serverName, path: "/") else {
            listener.unrouted.add(1, ordering: .relaxed)
            return finish(closing: "no route for server name \(serverName ?? "(none)")")
        }
        guard let service = listener.directory.service(named: name) else {
            return finish(closing: "route to service '\(name)', which does not exist")
        }
        guard service.tryReserve() else {
            return finish(closing: "service '\(name)' is at max_connections (\(service.config.maxConnections))")
        }
        service.accepted.add(1, ordering: .relaxed)
        listener.routed.add(1, ordering: .relaxed)
        finish(closing: nil)
        Relay(worker: worker, service: service, client: client, peer: peer).start()
    }

    /// Leaves the loop; closes the client unless a relay takes it over.
    private func finish(closing reason: String?) {
        guard !isDone else { return }
        isDone = true
        timer?.cancel()
        worker.loop.unregister(client)
        worker.loop.release(self)
        listener.active.subtract(1, ordering: .relaxed)
        if let reason {
            Glibc.close(client)
            listener.logger.info("connection from \(peer.map { "\($0)" } ?? "?") closed: \(reason)")
        }
    }
}
