import CZnetdLinux
import Glibc
import Logging
import ZnetdConfig

/// One proxied connection: a client socket, a backend socket, and a flow each way.
///
/// Lives on one event loop. It takes a backend from the service's set (waiting for hostnames
/// to resolve off the loop), connects with a timeout, and on failure tries another backend
/// (up to `retries`), then moves bytes until both directions have ended, passing each EOF on
/// with shutdown(SHUT_WR) so half-closed connections work.
final class Relay: EventSource, @unchecked Sendable {
    fileprivate enum Phase { case held, resolving, connecting, relaying, closed }

    unowned let worker: Worker
    let service: ServiceRuntime
    /// The service's settings when the connection was accepted: shared, not copied (a
    /// ServiceConfig is over 500 bytes, a reference 8).
    private let settings: ServiceRuntime.Settings
    private var config: ServiceConfig { settings.config }
    private let client: Int32
    private let peer: SocketAddress?
    private var backendFD: Int32 = -1
    private var clientReady = Readiness()
    private var backendReady = Readiness()
    private var upstream = Flow()
    private var downstream = Flow()
    fileprivate var phase = Phase.resolving
    /// The backend connected to (or being connected to); its slot is held until close.
    private(set) var backend: Backend?
    /// Backends that failed for this client (allocated only on a retry).
    private var tried: [Backend] = []
    /// The backend came from an `exec:` program: this connection's own, outside the set.
    private var isDynamic = false
    /// Further addresses of an `exec:` program's answer.
    private var destinationAddresses: [SocketAddress] = []
    private var lastConnectError = ""
    private var connectTimer: LoopTimer?
    private var idleTimer: LoopTimer?
    private var lastActivity: UInt64
    private let started: UInt64
    static let descriptorRetryDelay: UInt64 = 50_000_000
    // The worker's list of live relays (intrusive, so removal is O(1)).
    var previous: Relay?
    var next: Relay?

    init(worker: Worker, service: ServiceRuntime, client: Int32, peer: SocketAddress?) {
        self.worker = worker
        self.service = service
        settings = service.settings
        self.client = client
        self.peer = peer
        started = worker.loop.now
        lastActivity = started
        super.init()
    }

    private var loop: EventLoop { worker.loop }

    func start() {
        worker.track(self)
        loop.register(client, source: self, side: 0)
        switch service.gate.admit(self) {
        case .proceed:
            resolve()
        case .held:
            // Waiting for an on-demand backend; the supervisor releases or refuses us.
            phase = .held
            let limit = config.onDemand?.startTimeout ?? OnDemand.defaultStartTimeout
            connectTimer = loop.schedule(after: limit.nanoseconds) { [unowned self] in
                connectTimer = nil
                guard phase == .held, service.gate.withdraw(self) else { return }
                close(reason: "backend not ready within start_timeout (\(formatDuration(limit)))", level: .warning)
            }
        case .rejected:
            close(reason: "too many clients waiting for the backend (max_pending \(config.onDemand?.maxPending ?? 0))",
                  level: .warning)
        }
    }

    /// The backend is ready: go on connecting. Runs on this relay's loop.
    func released() {
        guard phase == .held else { return }
        connectTimer?.cancel()
        connectTimer = nil
        resolve()
    }

    /// The backend could not be woken. Runs on this relay's loop.
    func refused(_ reason: String) {
        guard phase == .held else { return }
        close(reason: reason, level: .warning)
    }

    private func resolve() {
        phase = .resolving
        if case .program(let argv) = config.target { return runDestinationProgram(argv) }
        chooseBackend()
    }

    // MARK: exec: destinations

    /// Asks the service's program where this client goes (on the control loop).
    private func runDestinationProgram(_ argv: [String]) {
        guard let runner = service.destinationRunner else {
            return close(reason: "no runner for the destination program", level: .error)
        }
        runner.run(argv, service: service.name, client: peer, local: SocketAddress.local(of: client),
                   timeout: config.connectTimeout) { [self] result in
            worker.loop.execute { [self] in
                guard phase == .resolving else { return }
                switch result {
                case .success(let target): resolveDestination(target)
                case .failure(let error): close(reason: "\(error)", level: .warning)
                }
            }
        }
    }

    private func resolveDestination(_ target: TargetAddress) {
        let answer = TargetEndpoints(target).addresses(now: loop.now) { [self] result in
            worker.loop.execute { [self] in
                guard phase == .resolving else { return }
                connectToDestination(target, result)
            }
        }
        if let answer { connectToDestination(target, answer) }
    }

    /// Connects to the program's answer, trying its addresses in turn (a hostname may have
    /// several). Each is a backend of this connection alone: not shared, not health-checked.
    private func connectToDestination(_ target: TargetAddress,
                                      _ result: Result<[SocketAddress], TargetEndpoints.ResolutionError>) {
        switch result {
        case .failure(let error):
            close(reason: "\(error)", level: .warning)
        case .success(let addresses):
            destinationAddresses = addresses
            connectToNextDestination(target)
        }
    }

    private func connectToNextDestination(_ target: TargetAddress) {
        guard let address = destinationAddresses.first else {
            service.failedConnects.add(1, ordering: .relaxed)
            return close(reason: "cannot connect to \(lastConnectError)", level: .warning)
        }
        destinationAddresses.removeFirst()
        let destination = Backend(address: address, settings: BackendTarget(address: target))
        _ = destination.tryReserve()
        backend = destination
        isDynamic = true
        phase = .connecting
        connect()
    }

    /// Takes a backend, or waits for hostnames to resolve, or gives up.
    fileprivate func chooseBackend() {
        let choice = service.backends.choose(client: peer, tried: tried, now: loop.now, waiter: self)
        switch choice {
        case .backend(let chosen):
            backend = chosen
            phase = .connecting
            connect()
        case .wait:
            phase = .resolving
        case .unavailable(let reason):
            service.failedConnects.add(1, ordering: .relaxed)
            if tried.isEmpty {
                close(reason: reason, level: .warning)
            } else {
                let which = tried.count == 1 ? "" : "any of \(tried.count) backends; last: "
                close(reason: "cannot connect to \(which)\(lastConnectError)", level: .warning)
            }
        }
    }

    // MARK: Connecting

    private func connect() {
        guard let chosen = backend else { return }
        let address = chosen.address
        let fd = znetd_socket(address.family, ZNETD_SOCK_STREAM)
        guard fd >= 0 else {
            let code = errno
            if (code == EMFILE || code == ENFILE) && loop.now &- started < config.connectTimeout.nanoseconds {
                // Out of descriptors: hold the client and try again shortly rather than drop it.
                connectTimer = loop.schedule(after: Relay.descriptorRetryDelay) { [unowned self] in
                    connectTimer = nil
                    connect()
                }
                return
            }
            // Not the backend's fault: no passive health penalty.
            lastConnectError = "\(address): socket: \(errnoDescription(code))"
            return giveBackBackend(failure: nil)
        }
        if address.family != AF_UNIX {
            _ = znetd_set_int_option(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            if let k = config.keepalive { setKeepalive(fd, k) }
        }
        backendFD = fd
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 {
            loop.register(fd, source: self, side: 1)
            connected()
        } else if errno == EINPROGRESS || errno == EAGAIN {
            // EAGAIN: a unix socket whose backlog is full; wait for it like a TCP handshake.
            loop.register(fd, source: self, side: 1)
            connectTimer = loop.schedule(after: config.connectTimeout.nanoseconds) { [unowned self] in
                connectFailed("timed out after \(formatDuration(config.connectTimeout))")
            }
        } else {
            connectFailed(errnoDescription(errno))
        }
    }

    /// The backend did not work out: release it, count the failure, and try another while
    /// `retries` allows.
    private func giveBackBackend(failure: String?) {
        guard let failed = backend else { return }
        backend = nil
        failed.release()
        if isDynamic { return connectToNextDestination(failed.target) }
        if let failure { service.backends.connectFinished(failed, failure: failure, now: loop.now) }
        tried.append(failed)
        let retries = service.backends.balancing.retries ?? Int.max
        guard tried.count <= retries else {
            service.failedConnects.add(1, ordering: .relaxed)
            close(reason: "cannot connect to \(lastConnectError) (retries: \(retries))", level: .warning)
            return
        }
        phase = .resolving
        chooseBackend()
    }

    private func connectFailed(_ reason: String) {
        connectTimer?.cancel()
        connectTimer = nil
        lastConnectError = "\(backend.map { "\($0)" } ?? "?"): \(reason)"
        loop.unregister(backendFD)
        Glibc.close(backendFD)
        backendFD = -1
        backendReady = Readiness()
        giveBackBackend(failure: reason)
    }

    private func connected() {
        connectTimer?.cancel()
        connectTimer = nil
        if let backend, !isDynamic { service.backends.connectFinished(backend, failure: nil, now: loop.now) }
        guard sendProxyHeader() else { return }
        phase = .relaying
        backendReady.writable = true
        startIdleClock()
        pump()
    }

    /// Writes the PROXY protocol header, if configured, before any of the client's bytes. The
    /// socket has just connected, so its send buffer takes the header (at most 52 bytes) whole;
    /// anything else is a broken connection. Returns false when it closed the relay.
    private func sendProxyHeader() -> Bool {
        guard let version = service.backends.balancing.proxyProtocol else { return true }
        let header = ProxyHeader.bytes(version, client: peer, local: SocketAddress.local(of: client))
        let sent = header.withUnsafeBytes { send(backendFD, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == header.count else {
            close(reason: "cannot send the PROXY header: \(sent < 0 ? errnoDescription(errno) : "short write")",
                  level: .warning)
            return false
        }
        return true
    }

    /// Idle time counts from the moment bytes can flow, not while the client was held.
    private func startIdleClock() {
        lastActivity = loop.now
        if let idle = config.idleTimeout { armIdleTimer(idle.nanoseconds) }
    }

    // MARK: Events

    override func handle(events: UInt32, side: Int) {
        lastActivity = loop.now
        if side == 1 && phase == .connecting {
            guard events & (ZNETD_EPOLLOUT | ZNETD_EPOLLERR | ZNETD_EPOLLHUP) != 0 else { return }
            // A failed connect always raises EPOLLERR; plain EPOLLOUT means connected, and
            // SO_ERROR need not be asked (one system call less per connection).
            let failed = events & (ZNETD_EPOLLERR | ZNETD_EPOLLHUP) != 0
            let error = failed ? znetd_get_socket_error(backendFD) : 0
            guard error == 0 else { return connectFailed(errnoDescription(error)) }
            if let backend, !isDynamic { service.backends.connectFinished(backend, failure: nil, now: loop.now) }
            guard sendProxyHeader() else { return }
            // The same edge may already carry the backend's first bytes (a server that speaks
            // first): record them below, or edge-triggered epoll never reports them again.
            connectTimer?.cancel()
            connectTimer = nil
            phase = .relaying
            startIdleClock()
        }
        let readable = events & (ZNETD_EPOLLIN | ZNETD_EPOLLRDHUP | ZNETD_EPOLLHUP | ZNETD_EPOLLERR) != 0
        let writable = events & (ZNETD_EPOLLOUT | ZNETD_EPOLLHUP | ZNETD_EPOLLERR) != 0
        let closed = events & (ZNETD_EPOLLRDHUP | ZNETD_EPOLLHUP | ZNETD_EPOLLERR) != 0
        if side == 0 {
            if readable { clientReady.readable = true }
            if writable { clientReady.writable = true }
            if closed { clientReady.peerClosed = true }
        } else {
            if readable { backendReady.readable = true }
            if writable { backendReady.writable = true }
            if closed { backendReady.peerClosed = true }
        }
        if phase == .relaying { pump() }
    }

    override func runDeferred() {
        if phase == .relaying { pump() }
    }

    private func pump() {
        let up = upstream.run(from: client, &clientReady, to: backendFD, &backendReady,
                              closesNext: downstream.isFinished, loop: loop)
        if case .failed(let code) = up { return abort(code) }
        let down = downstream.run(from: backendFD, &backendReady, to: client, &clientReady,
                                  closesNext: upstream.isFinished, loop: loop)
        if case .failed(let code) = down { return abort(code) }
        if upstream.isFinished && downstream.isFinished {
            return close(reason: nil, level: .info)
        }
        if case .yielded = up { loop.deferWork(self) } else if case .yielded = down { loop.deferWork(self) }
    }

    // MARK: Idle timeout

    private func armIdleTimer(_ idle: UInt64) {
        idleTimer = loop.schedule(after: lastActivity &+ idle &- loop.now) { [unowned self] in
            guard phase != .closed else { return }
            if loop.now &- lastActivity >= idle {
                close(reason: "idle for \(formatDuration(config.idleTimeout!))", level: .info)
            } else {
                armIdleTimer(idle)
            }
        }
    }

    // MARK: Closing

    /// A socket call failed: the connection is broken. A reset is passed on as a reset.
    private func abort(_ code: Int32) {
        if code == ECONNRESET || code == EPIPE {
            var hard = linger(l_onoff: 1, l_linger: 0)
            let size = socklen_t(MemoryLayout<linger>.size)
            setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, size)
            setsockopt(backendFD, SOL_SOCKET, SO_LINGER, &hard, size)
        }
        close(reason: errnoDescription(code), level: .info)
    }

    /// Closes both sockets now (also used to end connections after a drain timeout).
    func close(reason: String?, level: Logger.Level) {
        guard phase != .closed else { return }
        let wasRelaying = phase == .relaying
        if phase == .held { _ = service.gate.withdraw(self) }
        phase = .closed
        connectTimer?.cancel()
        idleTimer?.cancel()
        upstream.discard(loop)
        downstream.discard(loop)
        Glibc.close(client)
        if backendFD >= 0 { Glibc.close(backendFD) }
        backend?.release()
        worker.untrack(self)
        loop.release(self)
        service.bytesFromClients.add(upstream.bytes, ordering: .relaxed)
        service.bytesToClients.add(downstream.bytes, ordering: .relaxed)
        service.release()
        if let reason, !wasRelaying || level >= .warning {
            service.logger.log(level: level, "connection from \(peer.map { "\($0)" } ?? "?") closed: \(reason)",
                               metadata: record())
        } else if config.logConnections {
            let why = reason.map { ": \($0)" } ?? ""
            service.logger.info("connection from \(peer.map { "\($0)" } ?? "?") finished\(why)", metadata: record())
        }
    }

    /// Journal fields of a connection record.
    private func record() -> Logger.Metadata {
        [
            "client": "\(peer.map { "\($0)" } ?? "")",
            "target": "\(backend.map { "\($0.address)" } ?? "\(config.target)")",
            "bytes_in": "\(upstream.bytes)",
            "bytes_out": "\(downstream.bytes)",
            "duration_usec": "\((loop.now &- started) / 1_000)",
        ]
    }
}

extension Relay: HeldClient {}

extension Relay: BackendSet.Waiter {
    /// Hostnames resolved while this relay waited for a backend: choose again, on its loop.
    func backendsChanged() {
        worker.loop.execute { [self] in
            guard phase == .resolving, backend == nil else { return }
            chooseBackend()
        }
    }
}

/// TCP keepalive with the configured timings.
func setKeepalive(_ fd: Int32, _ keepalive: Keepalive) {
    _ = znetd_set_keepalive(
        fd, Int32(keepalive.idle.components.seconds), Int32(keepalive.interval.components.seconds),
        Int32(keepalive.count))
}
