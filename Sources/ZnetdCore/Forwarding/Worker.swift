import Glibc
import Logging

/// One event loop and what runs on it: an acceptor per listening socket and the relays it
/// accepted. Everything here is touched only on the loop's thread; other threads reach it
/// through `loop.execute`.
public final class Worker: @unchecked Sendable {
    public let loop: EventLoop
    private var acceptors: [ObjectIdentifier: Acceptor] = [:]
    private var sharedAcceptors: [ObjectIdentifier: SharedAcceptor] = [:]
    private var firstRelay: Relay?
    private var firstHTTPConnection: HTTPConnection?
    public private(set) var relayCount = 0

    init(loop: EventLoop) {
        self.loop = loop
    }

    // MARK: Listening sockets

    func startAccepting(_ socket: ListenSocket, for service: ServiceRuntime) {
        let key = ObjectIdentifier(socket)
        guard acceptors[key] == nil else { return }
        let acceptor = Acceptor(socket: socket, service: service, worker: self)
        acceptors[key] = acceptor
        acceptor.watch()
    }

    func stopAccepting(_ socket: ListenSocket) {
        acceptors.removeValue(forKey: ObjectIdentifier(socket))?.retire()
    }

    func stopAcceptingAll() {
        for acceptor in acceptors.values { acceptor.retire() }
        acceptors.removeAll()
        for acceptor in sharedAcceptors.values { acceptor.retire() }
        sharedAcceptors.removeAll()
    }

    // MARK: Shared listeners

    func startAccepting(_ socket: ListenSocket, for listener: SharedListener) {
        let key = ObjectIdentifier(socket)
        guard sharedAcceptors[key] == nil else { return }
        let acceptor = SharedAcceptor(socket: socket, listener: listener, worker: self)
        sharedAcceptors[key] = acceptor
        acceptor.watch()
    }

    func stopAcceptingShared(_ socket: ListenSocket) {
        sharedAcceptors.removeValue(forKey: ObjectIdentifier(socket))?.retire()
    }

    func track(_ connection: HTTPConnection) {
        connection.next = firstHTTPConnection
        firstHTTPConnection?.previous = connection
        firstHTTPConnection = connection
    }

    func untrack(_ connection: HTTPConnection) {
        connection.previous?.next = connection.next
        connection.next?.previous = connection.previous
        if firstHTTPConnection === connection { firstHTTPConnection = connection.next }
        connection.previous = nil
        connection.next = nil
    }

    /// The daemon is stopping: HTTP connections end after their current response.
    private(set) var isStopping = false

    /// Closes HTTP connections waiting for their next request (stop; the others close after
    /// their response), or all of them (forced).
    func closeHTTPConnections(idleOnly: Bool) {
        isStopping = true
        var connection = firstHTTPConnection
        while let current = connection {
            connection = current.next
            if idleOnly { current.closeIfIdle() } else { current.close(reason: "znetd is stopping") }
        }
    }

    /// A service had room again after reaching its connection limit.
    func resumeAccepting(for service: ServiceRuntime) {
        for acceptor in acceptors.values where acceptor.service === service { acceptor.resume() }
    }

    /// hand_off: the service's backend takes (true) or returns (false) its listening sockets.
    func setHandedOff(_ handedOff: Bool, for service: ServiceRuntime) {
        for acceptor in acceptors.values where acceptor.service === service { acceptor.setHandedOff(handedOff) }
    }

    // MARK: Relays

    func track(_ relay: Relay) {
        relay.next = firstRelay
        firstRelay?.previous = relay
        firstRelay = relay
        relayCount += 1
    }

    func untrack(_ relay: Relay) {
        relay.previous?.next = relay.next
        relay.next?.previous = relay.previous
        if firstRelay === relay { firstRelay = relay.next }
        relay.previous = nil
        relay.next = nil
        relayCount -= 1
    }

    /// Ends the connections of `service` to backends `matching` says (a backend's drain ran
    /// out of time, or a failback forces clients back to the better tier).
    func closeRelays(of service: ServiceRuntime, toBackends matching: (Backend) -> Bool, reason: String) {
        var relay = firstRelay
        while let current = relay {
            relay = current.next
            if current.service === service, let backend = current.backend, matching(backend) {
                current.close(reason: reason, level: .notice)
            }
        }
    }

    /// Ends every connection of `service` (or of all services) now: a drain ran out of time.
    /// HTTP connections on shared listeners end too while a request of theirs uses `service`.
    func closeRelays(of service: ServiceRuntime?, reason: String) {
        var relay = firstRelay
        while let current = relay {
            relay = current.next
            if service == nil || current.service === service {
                current.close(reason: reason, level: .warning)
            }
        }
        guard let service else { return }
        var connection = firstHTTPConnection
        while let current = connection {
            connection = current.next
            if current.isServing(service) { current.close(reason: reason, level: .warning) }
        }
    }
}
