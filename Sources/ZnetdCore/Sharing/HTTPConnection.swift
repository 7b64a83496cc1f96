import CZnetdLinux
import Glibc
import Logging
import ZnetdConfig
import ZnetdHTTP

/// One client connection on a shared HTTP listener: the I/O around an ``HTTPProxySession``.
///
/// Each request head is routed to a service; the connection then takes a slot of that service
/// (its max_connections), waits in its gate while an on-demand backend wakes (503 with
/// Retry-After past start_timeout), takes a backend through the service's balancing, and
/// forwards the request and the response. The backend connection is kept for the next
/// request while it goes to the same service; another service closes it first. Bodies stream
/// through bounded buffers: a side is read only while the other side's buffer is below
/// ``bufferLimit``, so a slow reader holds back its sender through TCP, not memory.
final class HTTPConnection: EventSource, @unchecked Sendable {
    private enum Phase { case noBackend, held, resolving, connecting, connected }

    unowned let worker: Worker
    let listener: SharedListener
    private let client: Int32
    private let peer: SocketAddress?
    private var session: HTTPProxySession
    /// TLS termination (a listener with `tls:`); nil: plain HTTP on the client socket.
    private var tls: TLSStream?
    private var isHandshaking = false
    private var phase = Phase.noBackend
    private var clientReady = Readiness()
    private var backendReady = Readiness()
    private var toClient = OutputBuffer()
    private var toBackend = OutputBuffer()
    private var clientEnded = false
    private var closeAfterFlush = false
    private var backendWriteShut = false
    /// The service of the current backend connection, whose slot this connection holds.
    private var service: ServiceRuntime?
    private var backendFD: Int32 = -1
    /// Receives the backend socket's events; a new one for each backend connection.
    private var backendEvents: BackendEvents?
    private var backend: Backend?
    private var tried: [Backend] = []
    private var lastConnectError = ""
    private var timer: LoopTimer?
    private var idleTimer: LoopTimer?
    private var lastActivity: UInt64
    private var bytesFromClient: UInt64 = 0
    private var bytesToClient: UInt64 = 0
    // The worker's list of live HTTP connections.
    var previous: HTTPConnection?
    var next: HTTPConnection?

    /// Bytes buffered for one side before the other side is no longer read.
    static let bufferLimit = 64 * 1024
    /// How long a connection may sit between requests (keep-alive) before it is closed.
    static let keepAliveTimeout: UInt64 = 15_000_000_000

    init(worker: Worker, listener: SharedListener, client: Int32, peer: SocketAddress?) {
        self.worker = worker
        self.listener = listener
        self.client = client
        self.peer = peer
        let config = listener.config
        let certificates = listener.certificates
        session = HTTPProxySession(routes: listener.routeTable, client: peer.map(clientAddressText) ?? "unknown",
                                   isTLS: certificates != nil, forwarded: config.forwarded.fields)
        if let certificates {
            tls = try? certificates.accept(fd: client)
            isHandshaking = true
        }
        lastActivity = worker.loop.now
        super.init()
    }

    private var loop: EventLoop { worker.loop }

    func start() {
        listener.active.add(1, ordering: .relaxed)
        worker.track(self)
        loop.register(client, source: self, side: 0)
        armIdleTimer()
        if isHandshaking && tls == nil { close(reason: "cannot set up TLS") }
    }

    /// Whether the current request (or kept backend connection) belongs to `target`.
    func isServing(_ target: ServiceRuntime) -> Bool { service === target }

    /// Closes a connection waiting for its next request (the daemon is stopping).
    func closeIfIdle() {
        if session.isIdle && phase != .held && toClient.isEmpty { close(reason: nil) }
    }

    // MARK: Events

    /// The client socket's events.
    override func handle(events: UInt32, side: Int) {
        handle(events: events, fromBackend: false)
    }

    fileprivate func handle(events: UInt32, fromBackend: Bool) {
        lastActivity = loop.now
        let readable = events & (ZNETD_EPOLLIN | ZNETD_EPOLLRDHUP | ZNETD_EPOLLHUP | ZNETD_EPOLLERR) != 0
        let writable = events & (ZNETD_EPOLLOUT | ZNETD_EPOLLHUP | ZNETD_EPOLLERR) != 0
        let hungUp = events & (ZNETD_EPOLLRDHUP | ZNETD_EPOLLHUP | ZNETD_EPOLLERR) != 0
        if !fromBackend {
            if readable { clientReady.readable = true }
            if writable { clientReady.writable = true }
            if hungUp { clientReady.peerClosed = true }
        } else {
            if phase == .connecting {
                guard events & (ZNETD_EPOLLOUT | ZNETD_EPOLLERR | ZNETD_EPOLLHUP) != 0 else { return }
                let error = events & (ZNETD_EPOLLERR | ZNETD_EPOLLHUP) != 0 ? znetd_get_socket_error(backendFD) : 0
                guard error == 0 else {
                    // The next backend, or the 502, moves on from here: pump it out.
                    connectFailed(errnoDescription(error))
                    return pump()
                }
                connected()
            }
            if readable { backendReady.readable = true }
            if writable { backendReady.writable = true }
            if hungUp { backendReady.peerClosed = true }
        }
        pump()
    }

    override func runDeferred() { pump() }

    /// Moves bytes until nothing more can move now. Each pass writes what is buffered, then
    /// reads a side whose destination has room.
    private func pump() {
        if isHandshaking, let tls {
            switch tls.handshake() {
            case .done: isHandshaking = false
            case .wantsRead, .wantsWrite: return
            case .failed(let reason): return close(reason: "TLS handshake: \(reason)", level: .debug)
            }
        }
        var rounds = 0
        while !isClosed {
            rounds += 1
            if rounds > 64 { return loop.deferWork(self) }  // fair to other connections
            var progressed = false
            if !toClient.isEmpty && clientReady.writable {
                switch tls.map({ toClient.write(through: $0) }) ?? toClient.write(to: client) {
                case .wrote: progressed = true
                case .blocked: clientReady.writable = false
                case .failed(let code): return close(reason: "client: \(errnoDescription(code))")
                }
            }
            if toClient.isEmpty && (closeAfterFlush || ((clientEnded || worker.isStopping) && session.isIdle)) {
                // Done, or the client half-closed (or znetd is stopping) and the last response is out.
                return close(reason: nil)
            }
            if phase == .connected && !toBackend.isEmpty && backendReady.writable {
                switch toBackend.write(to: backendFD) {
                case .wrote: progressed = true
                case .blocked: backendReady.writable = false
                case .failed(let code):
                    perform(session.backendClosed())
                    dropBackend(failure: errnoDescription(code))
                    continue
                }
            }
            if phase == .connected && clientEnded && toBackend.isEmpty && !backendWriteShut && session.isTunnel {
                backendWriteShut = true
                shutdown(backendFD, Int32(SHUT_WR))
            }
            if clientReady.readable && !clientEnded && session.wantsClientData && toBackend.count < Self.bufferLimit {
                switch tls.map(receive(through:)) ?? receive(from: client) {
                case .data(let bytes):
                    bytesFromClient &+= UInt64(bytes.count)
                    session.routes = listener.routeTable
                    perform(session.clientData(bytes))
                    progressed = true
                case .end:
                    clientEnded = true
                    perform(session.clientClosed())
                    if session.isIdle { return close(reason: nil) }
                    progressed = true
                case .blocked: clientReady.readable = false
                case .failed(let code): return close(reason: "client: \(errnoDescription(code))")
                }
            }
            if phase == .connected && backendReady.readable && toClient.count < Self.bufferLimit {
                switch receive(from: backendFD) {
                case .data(let bytes):
                    bytesToClient &+= UInt64(bytes.count)
                    session.routes = listener.routeTable
                    perform(session.backendData(bytes))
                    progressed = true
                case .end, .failed:
                    let wasTunnel = session.isTunnel
                    perform(session.backendClosed())
                    dropBackend(failure: nil)
                    if wasTunnel { closeAfterFlush = true }
                    progressed = true
                case .blocked: backendReady.readable = false
                }
            }
            if !progressed { return }
        }
    }

    // MARK: Session actions

    private func perform(_ actions: [HTTPProxySession.Action]) {
        for action in actions {
            switch action {
            case .route(let name):
                listener.routed.add(1, ordering: .relaxed)
                route(to: name)
            case .toBackend(let bytes): toBackend.append(bytes)
            case .toClient(let bytes): toClient.append(bytes)
            case .closeBackend: dropBackend(failure: nil)
            case .tunnel: break
            case .closeClient: closeAfterFlush = true
            }
        }
    }

    /// The session routed a request to service `name`.
    private func route(to name: String) {
        guard let target = listener.directory.service(named: name) else {
            listener.logger.warning("route to service '\(name)', which does not exist")
            return fail(status: 502, detail: "service \(name) is not available")
        }
        if target === service, phase == .connected, !backendReady.peerClosed {
            // Keep-alive to the same service: reuse the backend connection.
            return perform(session.backendConnected())
        }
        dropBackend(failure: nil)
        guard target.tryReserve() else {
            target.logger.warning("request from \(peer.map { "\($0)" } ?? "?") refused: max_connections (\(target.config.maxConnections)) reached")
            return fail(status: 503, retryAfter: 1, detail: "too many connections")
        }
        service = target
        target.accepted.add(1, ordering: .relaxed)
        switch target.gate.admit(self) {
        case .proceed:
            chooseBackend()
        case .held:
            phase = .held
            let limit = target.config.onDemand?.startTimeout ?? OnDemand.defaultStartTimeout
            timer = loop.schedule(after: limit.nanoseconds) { [unowned self] in
                timer = nil
                guard phase == .held, let service, service.gate.withdraw(self) else { return }
                service.logger.warning("request from \(peer.map { "\($0)" } ?? "?"): backend not ready within start_timeout (\(formatDuration(limit)))")
                fail(status: 503, retryAfter: retryAfter(limit), detail: "the service is starting")
                pump()
            }
        case .rejected:
            fail(status: 503, retryAfter: 1, detail: "too many requests waiting for the service to start")
        }
    }

    private func retryAfter(_ limit: Duration) -> Int {
        max(1, Int(limit.components.seconds))
    }

    /// The request cannot be served: the client gets `status` and the connection ends.
    private func fail(status: Int, retryAfter: Int? = nil, detail: String) {
        dropBackend(failure: nil)
        perform(session.backendFailed(status: status, retryAfterSeconds: retryAfter, detail: detail))
    }

    // MARK: Backend connection

    private func chooseBackend() {
        guard let service else { return }
        phase = .resolving
        switch service.backends.choose(client: peer, tried: tried, now: loop.now, waiter: self) {
        case .backend(let chosen):
            backend = chosen
            connect(chosen)
        case .wait:
            break
        case .unavailable(let reason):
            service.failedConnects.add(1, ordering: .relaxed)
            service.logger.warning("request from \(peer.map { "\($0)" } ?? "?"): \(tried.isEmpty ? reason : lastConnectError)")
            fail(status: 502, detail: "no backend available")
        }
    }

    private func connect(_ chosen: Backend) {
        guard let service else { return }
        let address = chosen.address
        let fd = znetd_socket(address.family, ZNETD_SOCK_STREAM)
        guard fd >= 0 else {
            lastConnectError = "\(address): socket: \(errnoDescription(errno))"
            return giveBackBackend(failure: nil)
        }
        if address.family != AF_UNIX {
            _ = znetd_set_int_option(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            if let keepalive = service.config.keepalive { setKeepalive(fd, keepalive) }
        }
        backendFD = fd
        backendReady = Readiness()
        backendWriteShut = false
        phase = .connecting
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 {
            registerBackend(fd)
            connected()
        } else if errno == EINPROGRESS || errno == EAGAIN {
            registerBackend(fd)
            let limit = service.config.connectTimeout
            timer = loop.schedule(after: limit.nanoseconds) { [unowned self] in
                timer = nil
                connectFailed("timed out after \(formatDuration(limit))")
                pump()
            }
        } else {
            connectFailed(errnoDescription(errno))
        }
    }

    private func registerBackend(_ fd: Int32) {
        let events = BackendEvents(self)
        backendEvents = events
        loop.register(fd, source: events, side: 1)
    }

    /// Stops the backend socket's events; any still queued in this batch are dropped.
    private func unregisterBackend() {
        loop.unregister(backendFD)
        if let backendEvents { loop.release(backendEvents) }
        backendEvents = nil
    }

    private func connected() {
        timer?.cancel()
        timer = nil
        if let backend { service?.backends.connectFinished(backend, failure: nil, now: loop.now) }
        phase = .connected
        backendReady.writable = true
        if let version = service?.backends.balancing.proxyProtocol {
            // Each backend connection starts with the client's PROXY header, as a relay's does.
            toBackend.append(ProxyHeader.bytes(version, client: peer, local: SocketAddress.local(of: client)))
        }
        perform(session.backendConnected())
    }

    private func connectFailed(_ reason: String) {
        timer?.cancel()
        timer = nil
        lastConnectError = "\(backend.map { "\($0)" } ?? "?"): \(reason)"
        unregisterBackend()
        Glibc.close(backendFD)
        backendFD = -1
        giveBackBackend(failure: reason)
    }

    /// Another backend while `retries` allows; then 502.
    private func giveBackBackend(failure: String?) {
        guard let service, let failed = backend else { return }
        backend = nil
        failed.release()
        if let failure { service.backends.connectFinished(failed, failure: failure, now: loop.now) }
        tried.append(failed)
        let retries = service.backends.balancing.retries ?? Int.max
        guard tried.count <= retries else {
            service.failedConnects.add(1, ordering: .relaxed)
            service.logger.warning("request from \(peer.map { "\($0)" } ?? "?"): cannot connect to \(lastConnectError)")
            return fail(status: 502, detail: "cannot connect to the service")
        }
        chooseBackend()
    }

    /// Ends the backend connection (if any) and gives the service its slot back.
    private func dropBackend(failure: String?) {
        timer?.cancel()
        timer = nil
        if phase == .held, let service { _ = service.gate.withdraw(self) }
        if backendFD >= 0 {
            unregisterBackend()
            Glibc.close(backendFD)
            backendFD = -1
        }
        backend?.release()
        backend = nil
        tried = []
        toBackend.clear()
        backendReady = Readiness()
        if let service {
            if let failure { service.logger.info("backend connection ended: \(failure)") }
            service.bytesFromClients.add(bytesFromClient, ordering: .relaxed)
            service.bytesToClients.add(bytesToClient, ordering: .relaxed)
            service.release()
        }
        bytesFromClient = 0
        bytesToClient = 0
        service = nil
        phase = .noBackend
    }

    // MARK: Idle and close

    /// Between requests the keep-alive timeout applies; during one, the service's idle_timeout.
    private func armIdleTimer(after delay: UInt64 = HTTPConnection.keepAliveTimeout) {
        idleTimer = loop.schedule(after: delay) { [unowned self] in
            guard !isClosed else { return }
            let idleFor = loop.now &- lastActivity
            let limit = session.isIdle
                ? Self.keepAliveTimeout
                : (service?.config.idleTimeout?.nanoseconds ?? UInt64.max)
            if idleFor >= limit && phase != .held {
                close(reason: session.isIdle ? nil : "idle for \(formatDuration(.nanoseconds(idleFor)))")
            } else {
                armIdleTimer(after: limit == .max ? Self.keepAliveTimeout : limit - min(idleFor, limit) + 1_000_000)
            }
        }
    }

    /// Closes both sockets now (also used by a forced stop).
    func close(reason: String?, level: Logger.Level = .info) {
        guard !isClosed else { return }
        dropBackend(failure: nil)
        idleTimer?.cancel()
        if let tls, !isHandshaking { tls.shutdown() }
        tls = nil
        Glibc.close(client)
        worker.untrack(self)
        loop.release(self)
        listener.active.subtract(1, ordering: .relaxed)
        if session.unroutedRequests > 0 {
            listener.unrouted.add(UInt64(session.unroutedRequests), ordering: .relaxed)
        }
        if let reason {
            listener.logger.log(level: level, "connection from \(peer.map { "\($0)" } ?? "?") closed: \(reason)")
        }
    }

    // MARK: Socket reads

    private enum Received { case data([UInt8]), end, blocked, failed(Int32) }

    private func receive(through tls: TLSStream) -> Received {
        let scratch = loop.scratch
        switch tls.read(into: scratch) {
        case .done(0): return .end
        case .done(let count): return .data(Array(UnsafeRawBufferPointer(rebasing: scratch[..<count])))
        case .wantsRead, .wantsWrite: return .blocked
        case .failed: return .failed(EPROTO)
        }
    }

    private func receive(from fd: Int32) -> Received {
        let scratch = loop.scratch
        let count = recv(fd, scratch.baseAddress, scratch.count, 0)
        if count > 0 { return .data(Array(UnsafeRawBufferPointer(rebasing: scratch[..<count]))) }
        if count == 0 { return .end }
        switch errno {
        case EAGAIN, EINTR: return .blocked
        case let code: return .failed(code)
        }
    }
}

extension HTTPConnection: HeldClient {
    func released() {
        guard phase == .held else { return }
        timer?.cancel()
        timer = nil
        chooseBackend()
        pump()
    }

    func refused(_ reason: String) {
        guard phase == .held else { return }
        phase = .resolving  // no longer in the gate
        service?.logger.warning("request from \(peer.map { "\($0)" } ?? "?") refused: \(reason)")
        let limit = service?.config.onDemand?.startTimeout ?? OnDemand.defaultStartTimeout
        fail(status: 503, retryAfter: retryAfter(limit), detail: "the service could not be started")
        pump()
    }
}

extension HTTPConnection: BackendSet.Waiter {
    func backendsChanged() {
        worker.loop.execute { [self] in
            guard !isClosed, phase == .resolving, backend == nil else { return }
            chooseBackend()
            pump()
        }
    }
}

/// The backend socket of one backend connection, registered on its own: events still queued
/// for a socket that was closed (a keep-alive connection moving to another service) are
/// dropped with it instead of reaching the next backend connection.
private final class BackendEvents: EventSource {
    unowned let connection: HTTPConnection

    init(_ connection: HTTPConnection) {
        self.connection = connection
    }

    override func handle(events: UInt32, side: Int) {
        connection.handle(events: events, fromBackend: true)
    }
}

/// Bytes waiting for a socket to take them.
struct OutputBuffer {
    private var bytes: [UInt8] = []
    private var sent = 0

    enum Outcome { case wrote, blocked, failed(Int32) }

    var isEmpty: Bool { sent == bytes.count }
    var count: Int { bytes.count - sent }

    mutating func append(_ more: [UInt8]) {
        if isEmpty { bytes.removeAll(keepingCapacity: bytes.capacity <= 64 * 1024); sent = 0 }
        bytes += more
    }

    mutating func clear() {
        bytes = []
        sent = 0
    }

    /// One TLS record's worth of what is buffered.
    mutating func write(through tls: TLSStream) -> Outcome {
        let progress = bytes.withUnsafeBytes { raw in
            tls.write(UnsafeRawBufferPointer(rebasing: raw[sent...]))
        }
        switch progress {
        case .done(let written):
            sent += written
            if isEmpty { bytes.removeAll(keepingCapacity: bytes.capacity <= 64 * 1024); sent = 0 }
            return .wrote
        case .wantsRead, .wantsWrite: return .blocked
        case .failed: return .failed(EPROTO)
        }
    }

    /// One send(2) of what is buffered.
    mutating func write(to fd: Int32) -> Outcome {
        let written = bytes.withUnsafeBytes { raw in
            send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
        }
        if written >= 0 {
            sent += written
            if isEmpty { bytes.removeAll(keepingCapacity: bytes.capacity <= 64 * 1024); sent = 0 }
            return .wrote
        }
        return errno == EAGAIN || errno == EINTR ? .blocked : .failed(errno)
    }
}

/// The client's address as backends see it in X-Forwarded-For: an IPv4 client of a dual-stack
/// socket as plain IPv4.
func clientAddressText(_ address: SocketAddress) -> String {
    let host = address.host
    return host.hasPrefix("::ffff:") && host.contains(".") ? String(host.dropFirst(7)) : host
}

extension ForwardedStyle {
    var fields: HTTPForwardedFields {
        switch self {
        case .xForwarded: .xForwarded
        case .forwarded: .forwarded
        case .none: .none
        }
    }
}
