import CZnetdLinux
import Glibc
import ZnetdConfig

/// Readiness by connecting (ready: tcp): the backend is ready once its target accepts a
/// connection. Attempts back off from 2 ms to 100 ms, so a backend that comes up quickly is
/// noticed within milliseconds and a slow one costs little. The probe connection is closed
/// at once.
final class ConnectProbe: EventSource, @unchecked Sendable {
    private let loop: EventLoop
    private let endpoints: TargetEndpoints
    private var onReady: (() -> Void)?
    private var fd: Int32 = -1
    private var delay: UInt64 = ConnectProbe.firstDelay
    private var timer: LoopTimer?
    private(set) var lastError = "not tried yet"

    static let firstDelay: UInt64 = 2_000_000
    static let longestDelay: UInt64 = 100_000_000
    static let attemptTimeout: UInt64 = 1_000_000_000

    init(loop: EventLoop, endpoints: TargetEndpoints, onReady: @escaping () -> Void) {
        self.loop = loop
        self.endpoints = endpoints
        self.onReady = onReady
        super.init()
    }

    func start() { attempt() }

    func cancel() {
        onReady = nil
        timer?.cancel()
        closeSocket()
        loop.release(self)
    }

    private func attempt() {
        guard onReady != nil else { return }
        let answer = endpoints.addresses(now: loop.now) { [self] result in
            loop.execute { [self] in
                if onReady != nil { connect(result) }
            }
        }
        if let answer { connect(answer) }
    }

    private func connect(_ result: Result<[SocketAddress], TargetEndpoints.ResolutionError>) {
        guard case .success(let addresses) = result, let address = addresses.first else {
            if case .failure(let error) = result { lastError = "\(error)" }
            return retry()
        }
        fd = znetd_socket(address.family, ZNETD_SOCK_STREAM)
        guard fd >= 0 else {
            lastError = "socket: \(errnoDescription(errno))"
            return retry()
        }
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return succeeded() }
        guard errno == EINPROGRESS || errno == EAGAIN else {
            lastError = "\(address): \(errnoDescription(errno))"
            closeSocket()
            return retry()
        }
        loop.register(fd, source: self, side: 0, events: ZNETD_EPOLLOUT)
        timer = loop.schedule(after: ConnectProbe.attemptTimeout) { [unowned self] in
            lastError = "\(address): connect timed out"
            closeSocket()
            retry()
        }
    }

    override func handle(events: UInt32, side: Int) {
        guard fd >= 0 else { return }
        timer?.cancel()
        let error = znetd_get_socket_error(fd)
        if error == 0 {
            succeeded()
        } else {
            lastError = errnoDescription(error)
            closeSocket()
            retry()
        }
    }

    private func succeeded() {
        closeSocket()
        let ready = onReady
        onReady = nil
        loop.release(self)
        ready?()
    }

    private func retry() {
        guard onReady != nil else { return }
        timer = loop.schedule(after: delay) { [unowned self] in attempt() }
        delay = min(delay * 2, ConnectProbe.longestDelay)
    }

    private func closeSocket() {
        guard fd >= 0 else { return }
        loop.unregister(fd)
        Glibc.close(fd)
        fd = -1
    }
}
