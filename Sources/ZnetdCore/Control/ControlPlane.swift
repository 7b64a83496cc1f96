import CZnetdLinux
import Glibc
import Logging
import ZnetdConfig

/// The daemon's control plane: the control socket (`znetd status`, `register`, `unregister`),
/// the Prometheus endpoint, and the registrations made at run time.
///
/// Everything here runs on the daemon's control loop, like the rest of its bookkeeping; the
/// data plane is only read (atomics) for a status, and changed only through the same paths a
/// reload uses (a service's new backend list, its gate).
public final class ControlPlane: ControlHandler {
    /// Command-line choices of `znetd run`.
    public struct Options: Sendable {
        /// `--control-socket`: wins over `control: socket:` and `$RUNTIME_DIRECTORY`.
        public var socketPath: String?
        /// `--state-directory`: where persistent registrations are kept (else `$STATE_DIRECTORY`).
        public var stateDirectory: String?

        public init(socketPath: String? = nil, stateDirectory: String? = nil) {
            self.socketPath = socketPath
            self.stateDirectory = stateDirectory
        }
    }

    /// FileDescriptorName= of the metrics socket in generated units; no service can have it.
    public static let metricsSocketName = "_metrics"
    /// The file name of the control socket in the unit's runtime directory.
    public static let socketFileName = "control.sock"

    private unowned let daemon: Daemon
    private let options: Options
    private let logger: Logger
    private var listener: ControlPlaneListener?
    private var metrics: ControlPlaneListener?
    private var access = ControlAccess(ownerUID: geteuid())
    private var registrations = RegistrationBook()
    /// Persistent entries that could not be restored (a listener this znetd lacks): written
    /// back unchanged, so that they are not lost.
    private var unrestored: [JSONValue] = []
    /// Where a route registration goes once shared listeners exist (see `RouteRegistry`).
    public var routes: (any RouteRegistry)?

    init(daemon: Daemon, options: Options, logger: Logger) {
        self.daemon = daemon
        self.options = options
        var logger = logger
        logger[metadataKey: "component"] = "control"
        self.logger = logger
    }

    private var loop: EventLoop { daemon.control }
    private var settings: ControlSettings { daemon.configuration.control }

    // MARK: Start

    /// Binds the control socket and the metrics endpoint (if configured).
    func start() throws {
        access = try resolveAccess(settings)
        if let path = options.socketPath ?? settings.socket ?? ControlPlane.runtimeDirectorySocket() {
            try listen(at: path)
        } else {
            logger.info("no control socket: pass --control-socket PATH, set control: socket:, or run under systemd with RuntimeDirectory=")
        }
        try startMetrics()
    }

    /// `$RUNTIME_DIRECTORY/control.sock` (the first directory when several are listed).
    static func runtimeDirectorySocket() -> String? {
        guard let raw = getenv("RUNTIME_DIRECTORY") else { return nil }
        let first = String(cString: raw).split(separator: ":").first.map(String.init) ?? ""
        return first.isEmpty ? nil : (first.hasSuffix("/") ? first : first + "/") + socketFileName
    }

    private func listen(at path: String) throws {
        let sockets: [ListenSocket]
        do {
            sockets = try ListenSocket.bind(.unix(path: path), service: "control",
                                             options: SocketOptions(backlog: 64))
        } catch {
            throw Daemon.StartupError(description: "cannot create the control socket \(path): \(error)")
        }
        let socket = sockets[0]
        // 0600, or 0660 for the group: nobody else may even connect.
        let mode: mode_t = settings.group == nil ? 0o600 : 0o660
        if let gid = access.readerGroup, chown(path, uid_t.max, gid) != 0 {
            logger.warning("cannot give the control socket \(path) to group \(gid): \(errnoDescription(errno))")
        }
        if chmod(path, mode) != 0 {
            let error = errno
            socket.closeIfOwned()
            throw Daemon.StartupError(description: "cannot set the mode of the control socket \(path): \(errnoDescription(error))")
        }
        listener = ControlPlaneListener(fd: socket.fd, loop: loop) { [unowned self] fd in
            do {
                return ControlConnection(fd: fd, loop: loop, peer: try PeerCredentials.of(fd), handler: self)
            } catch {
                logger.warning("control connection refused: \(error)")
                return nil
            }
        }
        logger.info("control socket at \(path)")
    }

    /// uids and gids for the names in `control:`.
    private func resolveAccess(_ settings: ControlSettings) throws -> ControlAccess {
        var access = ControlAccess(ownerUID: geteuid())
        if let group = settings.group {
            guard let gid = groupID(group) else {
                throw Daemon.StartupError(description: "control: group: no such group '\(group)'")
            }
            access.readerGroup = gid
        }
        for user in settings.allowUsers {
            guard let uid = userID(user) else {
                throw Daemon.StartupError(description: "control: allow_uids: no such user '\(user)'")
            }
            access.changers.append(uid)
        }
        return access
    }

    private func startMetrics() throws {
        guard let address = daemon.configuration.metricsListen else { return }
        let fd: Int32
        if let inherited = daemon.inheritedMetrics {
            fd = inherited.fd
            _ = znetd_set_nonblocking(fd, 1)
        } else if daemon.isSocketActivated {
            // A generated unit that was not given the metrics socket: another process serves it.
            logger.debug("metrics_listen: no socket named \(ControlPlane.metricsSocketName) from systemd; not serving metrics here")
            return
        } else {
            do {
                fd = try ListenSocket.bind(address, service: "metrics", options: SocketOptions(backlog: 64))[0].fd
            } catch {
                throw Daemon.StartupError(description: "cannot listen for metrics_listen \(address): \(error)")
            }
        }
        metrics = ControlPlaneListener(fd: fd, loop: loop) { [unowned self] fd in
            MetricsConnection(fd: fd, loop: loop) { [unowned self] in
                PrometheusText.render(services: serviceStatuses(named: nil), listeners: listenerStatuses())
            }
        }
        logger.info("serving metrics on \(address)")
    }

    // MARK: Requests

    func handle(_ request: JSONValue, from connection: ControlConnection) -> JSONValue {
        guard let command = request["command"]?.stringValue else {
            return ControlReply.failure("\"command\" is required: status, register or unregister")
        }
        let right: ControlAccess.Right = command == "status" ? .read : .change
        guard access.allows(connection.peer, right) else {
            let message = access.refusal(connection.peer, right)
            logger.warning("control request '\(command)' refused for \(connection.peer): \(message)",
                           metadata: ["peer_uid": "\(connection.peer.uid)", "peer_pid": "\(connection.peer.pid)"])
            return ControlReply.failure(message)
        }
        do throws(ControlRequestError) {
            switch command {
            case "status":
                let name = request["service"]?.stringValue
                if let name, daemon.services[name] == nil {
                    throw ControlRequestError("no service '\(name)' in this znetd")
                }
                return ControlReply.success([
                    ("pid", .integer(Int64(getpid()))),
                    ("version", .string(ZnetdVersion.string)),
                    ("services", .array(serviceStatuses(named: name))),
                    // Listeners are no service's: only in the whole status.
                    ("listeners", .array(name == nil ? listenerStatuses() : [])),
                ])
            case "register":
                return try register(Registration(json: request), owner: request["wait"]?.boolValue == true ? connection : nil,
                                    peer: connection.peer)
            case "unregister":
                return try unregister(Registration(json: request).key, now: request["now"]?.boolValue == true,
                                      peer: connection.peer)
            default:
                throw ControlRequestError("unknown command '\(command)': status, register or unregister")
            }
        } catch {
            return ControlReply.failure(error.description)
        }
    }

    func controlConnectionClosed(_ connection: ControlConnection) {
        for key in registrations.owned(by: ObjectIdentifier(connection)) {
            logger.notice("\(key) ends: its registering client (\(connection.peer)) went away")
            remove(key, useGrace: true)
        }
    }

    // MARK: Registrations

    private func register(_ registration: Registration, owner: ControlConnection?, peer: PeerCredentials) throws(ControlRequestError) -> JSONValue {
        guard daemon.configuration.service(named: registration.service) != nil else {
            throw ControlRequestError("no service '\(registration.service)' in this znetd")
        }
        if registration.persistent && stateFile == nil {
            throw ControlRequestError("cannot keep a persistent registration: znetd has no state directory (StateDirectory= of its unit, or --state-directory)")
        }
        if case .route(let listener, let host, let path) = registration.kind {
            guard let routes else {
                throw ControlRequestError("this znetd serves no shared listener, so it cannot add a route (listener '\(listener)')")
            }
            if registrations.entry(registration.key) == nil {
                if let problem = routes.addRoute(listener: listener, host: host, path: path, service: registration.service) {
                    throw ControlRequestError(problem)
                }
            }
        }
        let endedGrace = registrations.add(registration, owner: owner.map(ObjectIdentifier.init))
        if endedGrace {
            logger.notice("\(registration.key) is back within its grace period")
            releaseHold(of: registration.service)
        } else {
            logger.notice("registered \(registration.key)\(registration.persistent ? " (persistent)" : "") for \(peer)")
        }
        applied(registration.service)
        return ControlReply.success([("registered", .object(registration.jsonFields))])
    }

    private func unregister(_ key: Registration.Key, now: Bool, peer: PeerCredentials) throws(ControlRequestError) -> JSONValue {
        guard registrations.entry(key) != nil else { throw ControlRequestError("no such registration: \(key)") }
        logger.notice("unregistering \(key) for \(peer)")
        remove(key, useGrace: !now)
        return ControlReply.success()
    }

    /// Removes a registration, or starts its grace period: while it runs the registration stays
    /// and, if it was the service's last one, new clients of the service are held.
    private func remove(_ key: Registration.Key, useGrace: Bool) {
        guard let entry = registrations.entry(key) else { return }
        // Already in its grace period: `unregister --now` ends it; anything else leaves it.
        if entry.inGrace {
            if !useGrace { finallyRemove(key) }
            return
        }
        let grace = entry.registration.grace
        guard useGrace, grace > .zero else { return finallyRemove(key) }
        registrations.startGrace(key)
        if registrations.live(of: key.service).isEmpty { hold(key.service) }
        logger.notice("\(key) has a grace period of \(formatDuration(grace)) to come back")
        let generation = registrations.entry(key)?.generation ?? 0
        loop.schedule(after: grace.nanoseconds) { [weak self] in
            guard let self, let entry = registrations.entry(key), entry.inGrace, entry.generation == generation else { return }
            logger.notice("\(key) did not come back within \(formatDuration(grace)); removed")
            finallyRemove(key)
        }
    }

    private func finallyRemove(_ key: Registration.Key) {
        guard let entry = registrations.remove(key) else { return }
        if case .route(let listener, let host, let path) = key.kind {
            routes?.removeRoute(listener: listener, host: host, path: path, service: key.service)
        }
        applied(key.service, persistentChanged: entry.registration.persistent)
        if !registrations.hasGrace(of: key.service) { releaseHold(of: key.service) }
    }

    /// The service's backends and the registrations file follow the book.
    private func applied(_ service: String, persistentChanged: Bool = true) {
        daemon.registrationsChanged(of: service)
        if persistentChanged { persist() }
    }

    /// New clients of a plain service wait in its gate (an on-demand service's gate is its
    /// supervisor's: its clients wait for the backend anyway).
    private func hold(_ name: String) {
        guard let service = daemon.services[name], daemon.supervisors[name] == nil else { return }
        service.gate.setMaxPending(OnDemand.defaultMaxPending)
        service.gate.close()
        service.holdingForGrace = true
    }

    private func releaseHold(of name: String) {
        guard let service = daemon.services[name], service.holdingForGrace, daemon.supervisors[name] == nil else { return }
        service.holdingForGrace = false
        for relay in service.gate.open() { relay.worker.loop.execute { relay.released() } }
        service.gate.setMaxPending(.max)
    }

    /// Backends registered for `service` (in grace too: they come back or go when it ends).
    func registeredTargets(of service: String) -> [TargetAddress] {
        registrations.all(of: service).compactMap {
            if case .backend(let target) = $0.registration.kind { return target }
            return nil
        }
    }

    /// A reload may have changed who may do what, or added services that persistent
    /// registrations were waiting for. (The socket itself, its place and its group, stay until
    /// a restart.)
    func configurationChanged() {
        do {
            access = try resolveAccess(settings)
        } catch {
            logger.error("\(error); keeping the control socket's previous permissions")
        }
        for name in Set(registrations.entries.map(\.registration.service)) { daemon.registrationsChanged(of: name) }
    }

    func registrationsJSON(of service: String) -> [JSONValue] {
        registrations.all(of: service).map { entry in
            .object(entry.registration.jsonFields + [
                ("wait", .bool(entry.owner != nil)), ("in_grace", .bool(entry.inGrace)),
            ])
        }
    }

    // MARK: Persistence

    private var stateFile: String? {
        let directory = options.stateDirectory ?? getenv("STATE_DIRECTORY").flatMap {
            String(cString: $0).split(separator: ":").first.map(String.init)
        }
        guard let directory, !directory.isEmpty else { return nil }
        return (directory.hasSuffix("/") ? directory : directory + "/") + "registrations.json"
    }

    /// Restores the persistent registrations (before the services start).
    func restoreRegistrations() {
        guard let path = stateFile else { return }
        let document: JSONValue
        switch readWholeFile(path) {
        case .success(let bytes):
            do {
                document = try JSONParser.parse(bytes)
            } catch {
                return logger.error("ignoring \(path): \(error)")
            }
        case .failure(let error):
            if error.errno != ENOENT { logger.error("cannot read \(path): \(error)") }
            return
        }
        for item in document["registrations"]?.arrayValue ?? [] {
            do throws(ControlRequestError) {
                var registration = try Registration(json: item)
                registration.persistent = true
                if case .route(let listener, let host, let routePath) = registration.kind {
                    let problem = routes.map {
                        $0.addRoute(listener: listener, host: host, path: routePath, service: registration.service)
                    } ?? "this znetd serves no shared listener"
                    if let problem {
                        // Kept in the file for a znetd that has the listener again.
                        logger.warning("cannot restore \(registration.key): \(problem); kept in \(path)")
                        unrestored.append(item)
                        continue
                    }
                }
                _ = registrations.add(registration, owner: nil)
                logger.notice("restored persistent \(registration.key)")
            } catch {
                logger.error("ignoring an entry of \(path): \(error)")
            }
        }
    }

    /// Writes the persistent registrations atomically: a new file, fsync, rename.
    private func persist() {
        guard let path = stateFile else { return }
        let kept = registrations.entries.filter(\.registration.persistent).map { JSONValue.object($0.registration.jsonFields) }
            + unrestored
        let text = JSONValue.object([("version", .integer(1)), ("registrations", .array(kept))]).pretty + "\n"
        if case .failure(let error) = writeFileAtomically(path, Array(text.utf8)) {
            logger.error("cannot save the persistent registrations to \(path): \(error)")
        }
    }

    // MARK: Status

    /// Every shared listener's status, in name order.
    func listenerStatuses() -> [JSONValue] {
        daemon.listeners.keys.sorted().map { StatusReport.listener(daemon.listeners[$0]!) }
    }

    /// Every service's status (or one's), in name order.
    func serviceStatuses(named name: String?) -> [JSONValue] {
        daemon.services.keys.sorted().filter { name == nil || $0 == name }.map { key in
            StatusReport.service(daemon.services[key]!, supervisor: daemon.supervisors[key],
                                 registrations: registrationsJSON(of: key), now: loop.now)
        }
    }
}

/// Where routes registered at run time go: the shared listeners' route table (`listeners:`).
/// The daemon owns it; until it does, `register --listener` is refused with a clear message.
public protocol RouteRegistry: AnyObject {
    /// Adds a route from `listener` (host, path prefix) to `service`; returns why not, or nil.
    func addRoute(listener: String, host: String?, path: String?, service: String) -> String?
    func removeRoute(listener: String, host: String?, path: String?, service: String)
}

private func userID(_ name: String) -> uid_t? {
    if let number = uid_t(name) { return number }
    return getpwnam(name).map { $0.pointee.pw_uid }
}

private func groupID(_ name: String) -> gid_t? {
    if let number = gid_t(name) { return number }
    return getgrnam(name).map { $0.pointee.gr_gid }
}
