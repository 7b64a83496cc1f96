public import Logging
public import ZnetdConfig
public import Synchronization

/// The live state of one configured service, shared by every event loop.
///
/// It outlives reloads that keep the service's name, so its counters and its connection limit
/// stay continuous while its settings change underneath.
public final class ServiceRuntime: Sendable {
    public let name: String
    public let logger: Logger
    private let current: Mutex<Settings>
    private let maximum: Atomic<Int>
    /// Connections open now, counted from the moment an accept is attempted.
    public let active = Atomic<Int>(0)
    public let accepted = Atomic<UInt64>(0)
    public let bytesFromClients = Atomic<UInt64>(0)
    public let bytesToClients = Atomic<UInt64>(0)
    public let failedConnects = Atomic<UInt64>(0)
    /// Set by an acceptor that paused because the service was full; the next release wakes them.
    private let saturated = Atomic<Bool>(false)
    /// Whether `allow:`/`deny:` are set: without them accept() checks nothing.
    private let checksClients: Atomic<Bool>
    /// Clients refused by `allow:`/`deny:`.
    public let refusedClients = Atomic<UInt64>(0)
    private let capacityHook = Mutex<(@Sendable (ServiceRuntime) -> Void)?>(nil)
    /// Called when the last connection closes (the idle clock of an on-demand backend starts).
    private let idleHook = Mutex<(@Sendable () -> Void)?>(nil)
    /// Where connections wait while an on-demand backend wakes; always open for the others.
    public let gate: ServiceGate
    /// New clients are held in the gate while a registration's grace period runs.
    private let graceHold = Atomic<Bool>(false)
    var holdingForGrace: Bool {
        get { graceHold.load(ordering: .relaxed) }
        set { graceHold.store(newValue, ordering: .relaxed) }
    }
    /// The backends new connections are spread over.
    let backends: BackendSet
    /// Runs an `exec:` target's program (set by the daemon, whose control loop runs it).
    private let destinationProgram = Mutex<DestinationProgram?>(nil)

    public init(config: ServiceConfig, logger: Logger) {
        name = config.name
        var logger = logger
        logger[metadataKey: "service"] = "\(config.name)"
        self.logger = logger
        current = Mutex(Settings(config: config, endpoints: TargetEndpoints(config.target)))
        maximum = Atomic(config.maxConnections)
        checksClients = Atomic(!config.clientAccess.isEmpty)
        gate = ServiceGate(open: config.onDemand == nil, maxPending: config.onDemand?.maxPending ?? .max)
        backends = BackendSet(targets: config.targets, balancing: config.balancing, logger: logger)
    }

    var destinationRunner: DestinationProgram? {
        get { destinationProgram.withLock { $0 } }
        set { destinationProgram.withLock { $0 = newValue } }
    }

    func onIdle(_ hook: @escaping @Sendable () -> Void) {
        idleHook.withLock { $0 = hook }
    }

    /// The settings in force, as one shared object: a connection keeps a reference to them,
    /// not a copy of the whole `ServiceConfig` (over 500 bytes inline), which would be most of
    /// an idle connection's memory.
    final class Settings: Sendable {
        let config: ServiceConfig
        let endpoints: TargetEndpoints

        init(config: ServiceConfig, endpoints: TargetEndpoints) {
            self.config = config
            self.endpoints = endpoints
        }
    }

    public var config: ServiceConfig { current.withLock { $0.config } }
    var settings: Settings { current.withLock { $0 } }
    var snapshot: (config: ServiceConfig, endpoints: TargetEndpoints) {
        let settings = settings
        return (settings.config, settings.endpoints)
    }

    /// Applies new settings to connections accepted from now on.
    public func update(_ config: ServiceConfig) {
        current.withLock { state in
            let endpoints = state.config.target == config.target ? state.endpoints : TargetEndpoints(config.target)
            state = Settings(config: config, endpoints: endpoints)
        }
        backends.update(targets: config.targets, balancing: config.balancing)
        maximum.store(config.maxConnections, ordering: .sequentiallyConsistent)
        checksClients.store(!config.clientAccess.isEmpty, ordering: .relaxed)
        gate.setMaxPending(config.onDemand?.maxPending ?? .max)
        notifyIfRoom()
    }

    /// Whether `allow:`/`deny:` let a client at `peer` in (unix-socket clients have no address
    /// and are always let in).
    func admits(_ peer: SocketAddress?) -> Bool {
        guard checksClients.load(ordering: .relaxed), let bytes = peer?.ipBytes else { return true }
        return current.withLock { $0.config.clientAccess }.admits(bytes)
    }

    /// Called when room appears after acceptors paused for the connection limit.
    public func onCapacity(_ hook: @escaping @Sendable (ServiceRuntime) -> Void) {
        capacityHook.withLock { $0 = hook }
    }

    // MARK: Connection slots

    /// Takes a slot for one more connection, or returns false at the limit.
    func tryReserve() -> Bool {
        var count = active.load(ordering: .sequentiallyConsistent)
        while count < maximum.load(ordering: .relaxed) {
            let (exchanged, original) = active.compareExchange(
                expected: count, desired: count + 1, ordering: .sequentiallyConsistent)
            if exchanged { return true }
            count = original
        }
        return false
    }

    /// Gives a slot back (a connection closed, or an accept found nothing).
    func release() {
        let left = active.subtract(1, ordering: .sequentiallyConsistent).newValue
        notifyIfRoom()
        if left == 0 { idleHook.withLock { $0 }?() }
    }

    /// An acceptor stopped for the limit; true if room appeared meanwhile (resume at once).
    func markSaturated() -> Bool {
        saturated.store(true, ordering: .sequentiallyConsistent)
        return hasRoom
    }

    var hasRoom: Bool {
        active.load(ordering: .sequentiallyConsistent) < maximum.load(ordering: .sequentiallyConsistent)
    }

    private func notifyIfRoom() {
        guard saturated.load(ordering: .sequentiallyConsistent), hasRoom,
              saturated.exchange(false, ordering: .sequentiallyConsistent) else { return }
        capacityHook.withLock { $0 }?(self)
    }
}
