import CZnetdLinux
import Glibc
import Synchronization
public import ZnetdConfig

/// The socket addresses behind one configured target.
///
/// IP literals and unix paths are known at once. A hostname is resolved with getaddrinfo on a
/// short-lived thread of its own, never on an event loop; the answer is kept for
/// `refreshInterval` and refreshed in the background while connections keep using it, and
/// connections that arrive before any answer wait for it.
public final class TargetEndpoints: Sendable {
    public typealias Completion = @Sendable (Result<[SocketAddress], ResolutionError>) -> Void

    public struct ResolutionError: Error, Sendable, CustomStringConvertible {
        public var host: String
        public var reason: String
        public var description: String { "cannot resolve '\(host)': \(reason)" }
    }

    private struct State {
        var addresses: [SocketAddress] = []
        var resolvedAt: UInt64 = 0
        var resolving = false
        var failure: (error: ResolutionError, at: UInt64)?
        var waiters: [Completion] = []
    }

    public let target: TargetAddress
    private let fixed: [SocketAddress]?
    private let state = Mutex(State())
    static let refreshInterval: UInt64 = 30 * 1_000_000_000
    static let failureHoldTime: UInt64 = 1_000_000_000

    public init(_ target: TargetAddress) {
        self.target = target
        switch target {
        case .unix(let path):
            fixed = SocketAddress(unixPath: path).map { [$0] } ?? []
        case .inet(let host, let port):
            fixed = SocketAddress(ip: host, port: port).map { [$0] }
        case .program:
            // Decided per connection by the program; nothing to probe.
            fixed = []
        }
    }

    /// The addresses to try now, or nil when the caller must wait for `completion`, which then
    /// runs on the resolver's thread.
    public func addresses(now: UInt64, completion: @escaping Completion) -> Result<[SocketAddress], ResolutionError>? {
        if let fixed { return .success(fixed) }
        let (answer, start) = state.withLock { s -> (Result<[SocketAddress], ResolutionError>?, Bool) in
            let stale = now &- s.resolvedAt > TargetEndpoints.refreshInterval
            if !s.addresses.isEmpty {
                let start = stale && !s.resolving
                if start { s.resolving = true }
                return (.success(s.addresses), start)
            }
            if let failure = s.failure, now &- failure.at < TargetEndpoints.failureHoldTime {
                return (.failure(failure.error), false)
            }
            s.waiters.append(completion)
            let start = !s.resolving
            s.resolving = true
            return (nil, start)
        }
        if start { startResolving() }
        return answer
    }

    private func startResolving() {
        guard case .inet(let host, let port) = target else { return }
        do {
            try LoopThread.spawn(name: "znetd-resolve") { [self] in
                finish(TargetEndpoints.resolve(host: host, port: port))
            }
        } catch {
            finish(.failure(ResolutionError(host: host, reason: "\(error)")))
        }
    }

    private func finish(_ result: Result<[SocketAddress], ResolutionError>) {
        let now = MonotonicClock.now()
        let waiters = state.withLock { s -> [Completion] in
            s.resolving = false
            switch result {
            case .success(let addresses):
                s.addresses = addresses
                s.resolvedAt = now
                s.failure = nil
            case .failure(let error):
                // Keep serving a stale answer rather than none.
                if s.addresses.isEmpty { s.failure = (error, now) }
            }
            let waiters = s.waiters
            s.waiters.removeAll()
            return waiters
        }
        let answer = state.withLock { s in s.addresses.isEmpty ? result : .success(s.addresses) }
        for waiter in waiters { waiter(answer) }
    }

    /// Blocking getaddrinfo; every stream address in the resolver's order.
    static func resolve(host: String, port: UInt16) -> Result<[SocketAddress], ResolutionError> {
        var hints = addrinfo()
        hints.ai_socktype = ZNETD_SOCK_STREAM
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0 else {
            let reason = rc == EAI_SYSTEM ? errnoDescription(errno) : String(cString: gai_strerror(rc))
            return .failure(ResolutionError(host: host, reason: reason))
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var entry = list
        while let info = entry {
            if let raw = info.pointee.ai_addr {
                let address = SocketAddress(raw: raw, length: info.pointee.ai_addrlen)
                if !addresses.contains(address) { addresses.append(address) }
            }
            entry = info.pointee.ai_next
        }
        if addresses.isEmpty {
            return .failure(ResolutionError(host: host, reason: "no addresses"))
        }
        return .success(addresses)
    }
}
