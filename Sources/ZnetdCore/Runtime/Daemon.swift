import CZnetdLinux
import Glibc
public import Logging
import Synchronization
public import ZnetdConfig
import ZnetdHTTP

/// The znetd process: its listening sockets, its services, its event loops, and its dialogue
/// with systemd (readiness, status, watchdog, reload, stop).
///
/// The main thread runs a control loop that owns all of this state; the data plane runs on
/// worker loops, one per thread, reached only through `execute`.
public final class Daemon: @unchecked Sendable {
    /// Produces the configuration to run, at start and again on every reload.
    public typealias ConfigurationSource = () throws(ConfigErrors) -> Configuration

    private let source: ConfigurationSource
    private let logger: Logger
    private let threadOverride: Int?
    private(set) var configuration: Configuration
    let control: EventLoop
    /// Reaps every child (backends and their orphaned descendants) on SIGCHLD.
    let reaper = ChildReaper()
    /// systemd's units over D-Bus, connected on first use (only unit launchers need it).
    private(set) lazy var systemdUnits = SystemdUnits(loop: control)
    private var workers: [Worker] = []
    private(set) var services: [String: ServiceRuntime] = [:]
    /// One per on-demand service.
    private(set) var supervisors: [String: Supervisor] = [:]
    /// Active health checks, one per service.
    private var healthMonitors: [String: HealthMonitor] = [:]
    private(set) var sockets: [String: [ListenSocket]] = [:]
    /// Shared listeners (`listeners:`) and their sockets.
    private(set) var listeners: [String: SharedListener] = [:]
    private(set) var listenerSockets: [String: [ListenSocket]] = [:]
    /// The services routes can reach, for the loops.
    public let directory = ServiceDirectory()
    /// Services removed by a reload whose connections are still finishing.
    private var draining: [ServiceRuntime] = []
    /// Sockets from systemd not serving any service now (kept open: they belong to systemd).
    private var spareInherited: [InheritedSocket] = []
    private(set) var isSocketActivated = false
    /// The socket systemd passed for `metrics_listen` (FileDescriptorName=_metrics).
    var inheritedMetrics: InheritedSocket?
    private var stopping = false
    private var lastStatus = ""
    private var reloadProblem: String?
    /// The control socket, the metrics endpoint and the registrations made through them.
    private(set) var controlPlane: ControlPlane?
    /// Where `znetd register --listener` routes go: the shared listeners' route table, set
    /// before `run()` by whoever owns the listeners. Nil: route registrations are refused.
    public var routeRegistry: (any RouteRegistry)?
    private let controlOptions: ControlPlane.Options

    public init(configuration: Configuration, threads: Int?, logger: Logger,
                control controlOptions: ControlPlane.Options = ControlPlane.Options(),
                source: @escaping ConfigurationSource) throws(SystemError) {
        self.configuration = configuration
        self.controlOptions = controlOptions
        self.source = source
        self.logger = logger
        self.threadOverride = threads
        control = try EventLoop(index: -1, pipeSize: 4096)
    }

    /// A startup failure: what to tell the operator.
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    // MARK: Start

    /// Takes or binds every socket, starts the loops, says READY=1 and runs until stopped.
    public func run() throws -> Never {
        SignalSource.block()
        do {
            try ChildReaper.becomeSubreaper()
        } catch {
            logger.warning("\(error): orphaned processes of backends will be reaped by PID 1 instead of znetd")
        }
        try openSockets()
        let threadCount = max(1, threadOverride ?? configuration.threads ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let watchdog = Notifier.watchdogInterval
        for index in 0..<threadCount {
            let loop = try EventLoop(index: index, pipeSize: configuration.pipeSize)
            if let watchdog { loop.maximumSleep = watchdog / 4 }
            workers.append(Worker(loop: loop))
        }
        var certificates: [String: TLSCertificateStore] = [:]
        for config in configuration.listeners {
            do {
                certificates[config.name] = try SharedListener.loadCertificates(config)
            } catch {
                throw StartupError(description: "listener '\(config.name)': \(error)")
            }
        }
        // Listeners before the registrations (persistent routes go into their tables), and
        // the registrations before the services (registered backends join theirs).
        for config in configuration.listeners { startListener(config, certificates: certificates[config.name]) }
        let controlPlane = ControlPlane(daemon: self, options: controlOptions, logger: logger)
        self.controlPlane = controlPlane
        controlPlane.routes = routeRegistry ?? self
        controlPlane.restoreRegistrations()
        for config in configuration.services { startService(config) }
        try controlPlane.start()
        for worker in workers {
            try LoopThread.spawn(name: "znetd-loop\(worker.loop.index)") { worker.loop.run() }
        }
        _ = try SignalSource(loop: control, reaper: reaper) { [unowned self] in received(signal: $0) }
        for supervisor in supervisors.values { supervisor.begin() }
        if let watchdog { scheduleWatchdog(interval: watchdog) }
        scheduleStatus()
        let summary = configuration.services.map { s in
            "\(s.name) (\(sockets[s.name, default: []].map { "\($0)" }.joined(separator: ", ")) -> \(s.target)\(s.targets.count > 1 ? " and \(s.targets.count - 1) more" : ""))"
        }
        let shared = configuration.listeners.map { l in
            "listener \(l.name) (\(listenerSockets[l.name, default: []].map { "\($0)" }.joined(separator: ", ")), \(l.mode.rawValue)\(l.tls == nil ? "" : "+tls"))"
        }
        logger.notice("znetd \(ZnetdVersion.string) serving \((shared + summary).joined(separator: "; ")) on \(threadCount) threads\(isSocketActivated ? " (socket-activated)" : "")")
        Notifier.ready(status: statusText())
        control.run()
        exit(0)
    }

    /// Matches inherited sockets to the configuration, or binds them when not socket-activated.
    private func openSockets() throws {
        var inherited = try ListenFDs.take()
        isSocketActivated = !inherited.isEmpty
        // The metrics endpoint's socket is no service's (its name is no valid service name).
        inheritedMetrics = inherited.first { $0.name == ControlPlane.metricsSocketName }
        inherited.removeAll { $0.name == ControlPlane.metricsSocketName }
        if isSocketActivated {
            for socket in inherited where !ListenFDs.isListeningStream(socket.fd) {
                throw StartupError(description: "inherited \(socket) is not a listening stream socket; use ListenStream= with Accept=no")
            }
            let owners = configuration.services.map { SocketMatcher.Owner(name: $0.name, listen: $0.listen) }
                + configuration.listeners.map { SocketMatcher.Owner(name: $0.name, listen: $0.listen) }
            let result = SocketMatcher.match(owners: owners, inherited)
            var problems: [String] = []
            for socket in result.unmatched {
                problems.append("inherited \(socket) matches no service: name it after a service with FileDescriptorName=, or listen on its address")
            }
            for (service, address) in result.missing {
                problems.append("service '\(service)' listens on \(address) but systemd passed no socket for it: add ListenStream= for it to a .socket unit with FileDescriptorName=\(service)")
            }
            guard problems.isEmpty else { throw StartupError(description: problems.joined(separator: "\n")) }
            for assignment in result.assignments {
                // Acceptors drain the backlog until EAGAIN; systemd may hand over blocking sockets.
                guard znetd_set_nonblocking(assignment.socket.fd, 1) == 0 else {
                    throw StartupError(description: "cannot make inherited \(assignment.socket) non-blocking: \(errnoDescription(errno))")
                }
                let socket = ListenSocket(fd: assignment.socket.fd, serviceName: assignment.service,
                                          address: assignment.address, isInherited: true)
                if configuration.listener(named: assignment.service) != nil {
                    listenerSockets[assignment.service, default: []].append(socket)
                } else {
                    sockets[assignment.service, default: []].append(socket)
                }
            }
        } else {
            do {
                for service in configuration.services {
                    for address in service.listen {
                        sockets[service.name, default: []] += try ListenSocket.bind(
                            address, service: service.name, options: service.socketOptions)
                    }
                }
                for listener in configuration.listeners {
                    for address in listener.listen {
                        listenerSockets[listener.name, default: []] += try ListenSocket.bind(
                            address, service: listener.name, options: listener.socketOptions)
                    }
                }
            } catch {
                for socket in sockets.values.joined() { socket.closeIfOwned() }
                for socket in listenerSockets.values.joined() { socket.closeIfOwned() }
                throw StartupError(description: "cannot listen: \(error)")
            }
        }
    }

    private func startService(_ config: ServiceConfig) {
        let service = ServiceRuntime(config: withRegistrations(config), logger: logger)
        services[config.name] = service
        directory.set(service)
        service.onCapacity { [workers] service in
            for worker in workers { worker.loop.execute { worker.resumeAccepting(for: service) } }
        }
        attachBackends(of: service)
        if let onDemand = config.onDemand { supervise(service, onDemand) }
        for socket in sockets[config.name, default: []] { startAccepting(socket, service) }
    }

    /// Starts a shared listener: its route table from the configuration, its sockets on every loop.
    private func startListener(_ config: ListenerConfig, certificates: TLSCertificateStore?) {
        let routes = SharedListener.configuredRoutes(of: config.name, in: configuration)
        let listener = SharedListener(config: config, routes: routes, directory: directory, logger: logger)
        listener.certificates = certificates
        listeners[config.name] = listener
        if routes.isEmpty {
            listener.logger.notice("listener '\(config.name)' has no routes: every request is answered 404 until a route is added")
        }
        for socket in listenerSockets[config.name, default: []] { startAccepting(socket, listener) }
    }

    private func startAccepting(_ socket: ListenSocket, _ listener: SharedListener) {
        socket.prepare(keepalive: nil)
        for worker in workers { worker.loop.execute { worker.startAccepting(socket, for: listener) } }
    }

    /// Gives the service's backend set the control loop's timers and a way to close connections.
    private func attachBackends(of service: ServiceRuntime) {
        let control = control
        let workers = UncheckedBox(workers)
        service.backends.drainTimeout.store(configuration.drainTimeout.nanoseconds, ordering: .relaxed)
        service.backends.attach(BackendSet.Hooks(
            schedule: { after, action in
                control.execute { control.schedule(after: after) { action() } }
            },
            closeConnections: { matching, reason in
                for worker in workers.value {
                    worker.loop.execute { worker.closeRelays(of: service, toBackends: matching, reason: reason) }
                }
            }))
        service.destinationRunner = DestinationProgram(control: control, reaper: reaper)
        let monitor = HealthMonitor(backends: service.backends, control: control, reaper: reaper,
                                    serviceName: service.name)
        healthMonitors[service.name] = monitor
        monitor.start()
    }

    /// Puts an on-demand service under a supervisor (started with `begin()` once loops run).
    @discardableResult
    private func supervise(_ service: ServiceRuntime, _ onDemand: OnDemand) -> Supervisor {
        let launcher = makeLauncher(for: service.config, onDemand)
        let supervisor = Supervisor(service: service, settings: onDemand, launcher: launcher, control: control,
                                    reaper: reaper)
        let workers = workers
        supervisor.pauseAccepting = {
            for worker in workers { worker.loop.execute { worker.setHandedOff(true, for: service) } }
        }
        supervisor.resumeAccepting = {
            for worker in workers { worker.loop.execute { worker.setHandedOff(false, for: service) } }
        }
        supervisors[service.name] = supervisor
        return supervisor
    }

    private func startAccepting(_ socket: ListenSocket, _ service: ServiceRuntime) {
        socket.prepare(keepalive: service.config.keepalive)
        for worker in workers { worker.loop.execute { worker.startAccepting(socket, for: service) } }
    }

    /// Takes `socket` off every loop, then runs `done` on the control loop.
    private func stopAccepting(_ sockets: [ListenSocket], then done: @escaping () -> Void) {
        let remaining = Atomic<Int>(workers.count)
        let control = control
        let doneOnControl = UncheckedBox(done)
        for worker in workers {
            worker.loop.execute {
                for socket in sockets {
                    worker.stopAccepting(socket)
                    worker.stopAcceptingShared(socket)
                }
                if remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).oldValue == 1 {
                    control.execute { doneOnControl.value() }
                }
            }
        }
    }

    // MARK: Signals

    private func received(signal: Int32) {
        switch signal {
        case SIGHUP:
            reload()
        case SIGTERM, SIGINT:
            if stopping {
                logger.notice("second stop signal: closing all connections now")
                forceClose(reason: "znetd is stopping")
            } else {
                stop()
            }
        case SIGUSR2:
            stallForTesting()
        default:
            break
        }
    }

    /// Freezes loop 0 so tests can watch systemd's watchdog restart znetd. Only with
    /// ZNETD_DEBUG_STALL=1 in the environment; ignored otherwise.
    private func stallForTesting() {
        guard getenv("ZNETD_DEBUG_STALL").map({ String(cString: $0) }) == "1" else {
            logger.info("SIGUSR2 ignored (set ZNETD_DEBUG_STALL=1 to let it stall an event loop)")
            return
        }
        logger.warning("stalling event loop 0 on request (ZNETD_DEBUG_STALL)")
        workers.first?.loop.execute { while true { sleep(60) } }
    }

    // MARK: Stop

    private func stop() {
        stopping = true
        Notifier.stopping()
        let open = openConnections()
        logger.notice("stopping: draining \(open) connections for up to \(formatDuration(configuration.drainTimeout))")
        for worker in workers {
            worker.loop.execute {
                worker.stopAcceptingAll()
                // Keep-alive connections between requests hold no work: close them now.
                worker.closeHTTPConnections(idleOnly: true)
            }
        }
        let deadline = control.now &+ configuration.drainTimeout.nanoseconds
        waitForDrain(deadline: deadline)
    }

    private func waitForDrain(deadline: UInt64, forced: Bool = false) {
        let open = openConnections()
        if open == 0 { return stopBackends { [logger] in
            logger.notice("stopped")
            exit(0)
        } }
        var forced = forced
        if control.now >= deadline {
            if !forced {
                logger.warning("drain timeout: closing \(open) connections")
                forceClose(reason: "drain timeout while stopping")
                forced = true
            } else if control.now >= deadline &+ Daemon.forceCloseGrace {
                // Only a stuck event loop can keep connections open this long.
                logger.error("\(open) connections still open \(formatDuration(.nanoseconds(Daemon.forceCloseGrace))) after closing them; exiting anyway")
                exit(1)
            }
        }
        updateStatus()
        control.schedule(after: 50_000_000) { [unowned self] in waitForDrain(deadline: deadline, forced: forced) }
    }

    /// How long loops get to close their connections after a drain timeout.
    static let forceCloseGrace: UInt64 = 2_000_000_000

    /// Stops the backends that are znetd's own children, then runs `done`.
    private func stopBackends(_ done: @escaping () -> Void) {
        let all = Array(supervisors.values)
        guard !all.isEmpty else { return done() }
        var left = all.count
        for supervisor in all {
            supervisor.shutdown {
                left -= 1
                if left == 0 { done() }
            }
        }
    }

    private func forceClose(reason: String) {
        for worker in workers {
            worker.loop.execute {
                worker.closeRelays(of: nil, reason: reason)
                worker.closeHTTPConnections(idleOnly: false)
            }
        }
    }

    private func openConnections() -> Int {
        (Array(services.values) + draining).reduce(0) { $0 + $1.active.load(ordering: .relaxed) }
    }

    // MARK: Reload

    private func reload() {
        guard !stopping else { return }
        Notifier.reloading()
        logger.notice("reloading configuration")
        do {
            let next = try source()
            let problems = Preflight.problems(in: next)
            guard problems.isEmpty else { throw StartupError(description: problems.joined(separator: "; ")) }
            try apply(next)
            controlPlane?.configurationChanged()
            reloadProblem = nil
            logger.notice("configuration reloaded: \(next.services.count) services")
        } catch let errors as ConfigErrors {
            for error in errors.errors { logger.error("reload rejected: \(error)") }
            reloadProblem = "last reload rejected: \(errors.errors.count) configuration errors"
        } catch {
            logger.error("reload rejected: \(error)")
            reloadProblem = "last reload rejected: \(error)"
        }
        lastStatus = ""
        Notifier.ready(status: statusText())
    }

    /// Switches to `next`: everything that can fail (binding) happens before anything changes.
    private func apply(_ next: Configuration) throws {
        let old = configuration
        // 1. Sockets for addresses that are new, per service.
        var opened: [String: [ListenSocket]] = [:]
        var openedShared: [String: [ListenSocket]] = [:]
        var retiring: [ListenSocket] = []
        do {
            for service in next.services {
                let before = old.service(named: service.name)?.listen ?? []
                for address in service.listen where !before.contains(address) {
                    opened[service.name, default: []] += try socketsFor(address, service: service)
                }
            }
            for listener in next.listeners {
                let before = old.listener(named: listener.name)?.listen ?? []
                for address in listener.listen where !before.contains(address) {
                    openedShared[listener.name, default: []] += try socketsFor(
                        address, owner: listener.name, options: listener.socketOptions)
                }
            }
        } catch {
            for socket in opened.values.joined() { socket.closeIfOwned() }
            for socket in openedShared.values.joined() { socket.closeIfOwned() }
            throw StartupError(description: "cannot listen: \(error)")
        }
        // Certificates: a new listener's must load (or the reload is rejected); a running
        // listener whose new ones do not load keeps those it had.
        var certificates: [String: TLSCertificateStore?] = [:]
        for listener in next.listeners {
            do {
                certificates[listener.name] = try SharedListener.loadCertificates(listener)
            } catch {
                guard let running = listeners[listener.name] else {
                    for socket in opened.values.joined() { socket.closeIfOwned() }
                    for socket in openedShared.values.joined() { socket.closeIfOwned() }
                    throw StartupError(description: "listener '\(listener.name)': \(error)")
                }
                running.logger.error("listener '\(listener.name)': cannot load the new certificates (\(error)); keeping the certificates it had")
            }
        }
        for listener in old.listeners {
            let after = next.listener(named: listener.name)?.listen ?? []
            for socket in listenerSockets[listener.name, default: []] where !after.contains(socket.address) {
                retiring.append(socket)
            }
        }
        for service in old.services {
            let after = next.service(named: service.name)?.listen ?? []
            for socket in sockets[service.name, default: []] where !after.contains(socket.address) {
                retiring.append(socket)
            }
        }
        // 2. Nothing can fail from here on.
        configuration = next
        let retiringIDs = Set(retiring.map(ObjectIdentifier.init))
        for (name, list) in sockets {
            sockets[name] = list.filter { !retiringIDs.contains(ObjectIdentifier($0)) }
        }
        for (name, list) in listenerSockets {
            listenerSockets[name] = list.filter { !retiringIDs.contains(ObjectIdentifier($0)) }
        }
        stopAccepting(retiring) { [unowned self] in
            for socket in retiring {
                if socket.isInherited {
                    spareInherited.append(InheritedSocket(fd: socket.fd, name: socket.serviceName, bound: socket.bound))
                } else {
                    socket.closeIfOwned()
                }
            }
        }
        for old in old.services where next.service(named: old.name) == nil {
            guard let service = services.removeValue(forKey: old.name) else { continue }
            directory.remove(named: old.name)
            sockets[old.name] = nil
            supervisors.removeValue(forKey: old.name)?.shutdown {}
            service.backends.retire()
            healthMonitors.removeValue(forKey: old.name)?.stop()
            drain(service)
        }
        for config in next.services {
            if let service = services[config.name] {
                service.backends.drainTimeout.store(next.drainTimeout.nanoseconds, ordering: .relaxed)
                let config = withRegistrations(config)
                if !service.config.sameSettings(as: config) {
                    let before = service.config.onDemand
                    service.update(config)
                    for socket in sockets[config.name, default: []] { socket.prepare(keepalive: config.keepalive) }
                    reviseSupervision(service, from: before, to: config.onDemand)
                }
                for socket in opened[config.name, default: []] {
                    sockets[config.name, default: []].append(socket)
                    startAccepting(socket, service)
                }
            } else {
                sockets[config.name] = opened[config.name, default: []]
                startService(config)
            }
        }
        applyListeners(next, opened: openedShared, certificates: certificates)
    }

    /// A reload's listeners: removed ones stop (their connections finish), kept ones take their
    /// new settings and configured routes (registered routes stay), new ones start.
    private func applyListeners(
        _ next: Configuration, opened: [String: [ListenSocket]], certificates: [String: TLSCertificateStore?]
    ) {
        for name in listeners.keys where next.listener(named: name) == nil {
            listeners.removeValue(forKey: name)
            listenerSockets[name] = nil
        }
        for config in next.listeners {
            if let listener = listeners[config.name] {
                let routes = SharedListener.configuredRoutes(of: config.name, in: next)
                listener.update(config: config, routes: routes)
                if let loaded = certificates[config.name] { listener.certificates = loaded }
                for socket in opened[config.name, default: []] {
                    listenerSockets[config.name, default: []].append(socket)
                    startAccepting(socket, listener)
                }
            } else {
                listenerSockets[config.name] = opened[config.name, default: []]
                startListener(config, certificates: certificates[config.name] ?? nil)
            }
        }
    }

    /// A reload changed a service's on-demand settings. Timings apply from the next wake-up;
    /// a different launcher means a different backend: the old one is stopped first.
    private func reviseSupervision(_ service: ServiceRuntime, from before: OnDemand?, to after: OnDemand?) {
        if let before, let after, before.launcher == after.launcher, before.handOff == after.handOff {
            supervisors[service.name]?.update(after)
            return
        }
        let old = supervisors.removeValue(forKey: service.name)
        let replace = { [unowned self] in
            if let after {
                supervise(service, after).begin()
            } else {
                // Plain forwarding from now on: nobody waits for a wake-up any more.
                for relay in service.gate.open() { relay.worker.loop.execute { relay.released() } }
            }
        }
        if let old { old.shutdown(replace) } else { replace() }
    }

    /// A socket for an address added by a reload: a spare one systemd passed in, or a new one.
    private func socketsFor(_ address: ListenAddress, service: ServiceConfig) throws -> [ListenSocket] {
        try socketsFor(address, owner: service.name, options: service.socketOptions)
    }

    private func socketsFor(_ address: ListenAddress, owner: String, options: SocketOptions) throws -> [ListenSocket] {
        if let index = spareInherited.firstIndex(where: { SocketMatcher.bound($0.bound, serves: address) }) {
            let spare = spareInherited.remove(at: index)
            return [ListenSocket(fd: spare.fd, serviceName: owner, address: address, isInherited: true)]
        }
        if isSocketActivated {
            logger.warning("'\(owner)': no socket from systemd for \(address); binding it directly (add it to the .socket unit to keep it across restarts)")
        }
        return try ListenSocket.bind(address, service: owner, options: options)
    }

    /// A removed service's connections finish, up to the drain timeout.
    private func drain(_ service: ServiceRuntime) {
        draining.append(service)
        let open = service.active.load(ordering: .relaxed)
        service.logger.notice("service removed; draining \(open) connections for up to \(formatDuration(configuration.drainTimeout))")
        control.schedule(after: configuration.drainTimeout.nanoseconds) { [unowned self] in
            if service.active.load(ordering: .relaxed) > 0 {
                service.logger.warning("drain timeout: closing \(service.active.load(ordering: .relaxed)) connections of removed service")
                for worker in workers {
                    worker.loop.execute { worker.closeRelays(of: service, reason: "service removed by reload") }
                }
            }
        }
    }

    // MARK: Registrations

    /// `config` with the backends registered at run time added to its own.
    func withRegistrations(_ config: ServiceConfig) -> ServiceConfig {
        guard let added = controlPlane?.registeredTargets(of: config.name), !added.isEmpty else { return config }
        var config = config
        for target in added where !config.targets.contains(where: { $0.address == target }) {
            config.targets.append(BackendTarget(address: target))
        }
        return config
    }

    /// Applies the registrations of `name` to its running service (a registration came or went).
    func registrationsChanged(of name: String) {
        guard let service = services[name], let config = configuration.service(named: name) else { return }
        service.update(withRegistrations(config))
    }

    // MARK: Status and watchdog

    private func statusText() -> String {
        draining.removeAll { $0.active.load(ordering: .relaxed) == 0 }
        let count = services.count
        let open = openConnections()
        var text = stopping
            ? "stopping: \(open) connections draining"
            : "\(count) service\(count == 1 ? "" : "s"), \(open) connection\(open == 1 ? "" : "s")"
        let backends = supervisors.keys.sorted().map { "\($0): \(supervisors[$0]!.statusText)" }
        if !backends.isEmpty { text += "; " + backends.joined(separator: ", ") }
        let balanced = services.keys.sorted().compactMap { name in
            services[name]!.backends.statusText.map { "\(name): \($0)" }
        }
        if !balanced.isEmpty { text += "; " + balanced.joined(separator: "; ") }
        if let reloadProblem { text += "; \(reloadProblem)" }
        return text
    }

    private func updateStatus() {
        let text = statusText()
        if text != lastStatus {
            lastStatus = text
            Notifier.status(text)
        }
    }

    private func scheduleStatus() {
        control.schedule(after: 1_000_000_000) { [unowned self] in
            updateStatus()
            scheduleStatus()
        }
    }

    /// Pings at half the interval, but only while every loop keeps going round: a stuck loop
    /// stops the pings and systemd restarts znetd.
    private func scheduleWatchdog(interval: UInt64) {
        control.schedule(after: interval / 2) { [unowned self] in
            let now = MonotonicClock.now()
            let stalled = workers.filter { now &- $0.loop.heartbeat.load(ordering: .relaxed) > interval / 2 }
            if stalled.isEmpty {
                Notifier.watchdog()
            } else {
                logger.critical("event loop \(stalled.map { "\($0.loop.index)" }.joined(separator: ", ")) stalled; withholding the watchdog ping")
            }
            scheduleWatchdog(interval: interval)
        }
    }
}

/// Carries a non-Sendable value to another thread where the caller guarantees it is only used
/// on the thread it was made for.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

// MARK: - Route registrations

/// `znetd register --listener`: routes added to and removed from a shared listener's table at
/// run time (they apply to the next request and outlive reloads; see SharedListener).
extension Daemon: RouteRegistry {
    public func addRoute(listener: String, host: String?, path: String?, service: String) -> String? {
        guard let shared = listeners[listener] else { return "no listener '\(listener)' in this znetd" }
        guard let pattern = HTTPRouteTable.HostPattern(host ?? "*") else {
            return "\"host\": '\(host ?? "")' is not a host name, *.suffix or *"
        }
        if shared.config.mode == .tcp, let path, path != "/" {
            return "listener '\(listener)' routes TLS connections by server name (mode: tcp): a route has no path"
        }
        let route = HTTPRouteTable.Route(host: pattern, pathPrefix: path ?? "/", service: service)
        return shared.addRoute(route) ? nil : "\(host ?? "*")\(path ?? "/") already routes somewhere on listener '\(listener)'"
    }

    public func removeRoute(listener: String, host: String?, path: String?, service: String) {
        guard let pattern = HTTPRouteTable.HostPattern(host ?? "*") else { return }
        listeners[listener]?.removeRoute(HTTPRouteTable.Route(host: pattern, pathPrefix: path ?? "/", service: service))
    }
}
