/// The whole znetd configuration after parsing, merging and validation.
///
/// Everything here is a plain value: the daemon compares two of them to decide what a reload
/// changes, and the generator turns one into unit files.
public struct Configuration: Sendable, Hashable {
    /// Services sorted by name.
    public var services: [ServiceConfig]
    /// Shared listeners (`listeners:`) sorted by name.
    public var listeners: [ListenerConfig]
    /// Event-loop threads; `nil` means one per CPU.
    public var threads: Int?
    /// How long a stop or a reload waits for connections in flight before closing them.
    public var drainTimeout: Duration
    /// Size asked of the kernel for each splice pipe (F_SETPIPE_SZ), in bytes.
    public var pipeSize: Int
    /// How the generator cuts the services into systemd units; the daemon ignores it.
    public var unitLayout: UnitLayout
    /// The control socket (`znetd status`, `znetd register`).
    public var control: ControlSettings
    /// Where Prometheus metrics are served (`metrics_listen:`); nil: nowhere.
    public var metricsListen: ListenAddress?

    public static let defaultDrainTimeout: Duration = .seconds(30)
    public static let defaultPipeSize = 1 << 20

    public init(
        services: [ServiceConfig] = [],
        listeners: [ListenerConfig] = [],
        threads: Int? = nil,
        drainTimeout: Duration = Configuration.defaultDrainTimeout,
        pipeSize: Int = Configuration.defaultPipeSize,
        unitLayout: UnitLayout = .perService,
        control: ControlSettings = ControlSettings(),
        metricsListen: ListenAddress? = nil
    ) {
        self.services = services
        self.listeners = listeners
        self.threads = threads
        self.drainTimeout = drainTimeout
        self.pipeSize = pipeSize
        self.unitLayout = unitLayout
        self.control = control
        self.metricsListen = metricsListen
    }

    public func service(named name: String) -> ServiceConfig? {
        services.first { $0.name == name }
    }

    public func listener(named name: String) -> ListenerConfig? {
        listeners.first { $0.name == name }
    }

    /// The services routed through listener `name`, sorted by name.
    public func services(routedThrough name: String) -> [ServiceConfig] {
        services.filter { $0.routes.contains { $0.listener == name } }
    }
}

/// Which znetd processes serve the services, when the generator writes their units.
public enum UnitLayout: String, Sendable, Hashable, CaseIterable {
    /// One `znetd-NAME.service` per service (the default): each service is isolated in its own
    /// process, restarts on its own, gets the hardening its backend allows and its own journal
    /// unit.
    case perService = "per-service"
    /// One `znetd.service` for all services, fed by one `znetd-NAME.socket` per service: one
    /// process and one cgroup (less memory), hardened as loosely as the neediest service needs.
    case shared
}

/// One named service: where clients connect and where their bytes go.
public struct ServiceConfig: Sendable, Hashable {
    public var name: String
    /// Its own listening sockets; empty when it is reached only through `routes:`.
    public var listen: [ListenAddress]
    /// Ways in through shared listeners (`routes:`).
    public var routes: [ServiceRoute]
    /// The backends, as written (`target:` is a list of one). Never empty.
    public var targets: [BackendTarget]
    /// Balancing, health checks, tiers, DNS refresh and the PROXY header.
    public var balancing: Balancing
    /// Per backend address tried; after it the next resolved address is tried.
    public var connectTimeout: Duration
    /// A connection with no bytes in either direction for this long is closed; `nil`: never.
    public var idleTimeout: Duration?
    /// Connections open at once; beyond it znetd stops accepting and clients wait in the backlog.
    public var maxConnections: Int
    /// TCP keepalive on both sockets of each connection; `nil`: off.
    public var keepalive: Keepalive?
    /// Log one record per finished connection (bytes, duration) at info level.
    public var logConnections: Bool
    /// Listening-socket options (Backlog=, FreeBind=, ReusePort= in a generated .socket unit).
    public var socketOptions: SocketOptions
    /// Which client addresses may connect (IPAddressAllow=/IPAddressDeny= of the .socket unit).
    public var clientAccess: ClientAccess
    /// Wake the backend on demand and stop it when idle; nil: plain forwarding.
    public var onDemand: OnDemand?
    /// Where the service is defined (its key under `services:`), for messages.
    public var location: SourceLocation?

    public static let defaultConnectTimeout: Duration = .seconds(5)
    public static let defaultMaxConnections = 4096

    public init(
        name: String,
        listen: [ListenAddress],
        routes: [ServiceRoute] = [],
        target: TargetAddress,
        targets: [BackendTarget]? = nil,
        balancing: Balancing = .standard,
        connectTimeout: Duration = ServiceConfig.defaultConnectTimeout,
        idleTimeout: Duration? = nil,
        maxConnections: Int = ServiceConfig.defaultMaxConnections,
        keepalive: Keepalive? = nil,
        logConnections: Bool = false,
        socketOptions: SocketOptions = SocketOptions(),
        clientAccess: ClientAccess = ClientAccess(),
        onDemand: OnDemand? = nil,
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.listen = listen
        self.routes = routes
        self.targets = targets ?? [BackendTarget(address: target)]
        self.balancing = balancing
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.keepalive = keepalive
        self.logConnections = logConnections
        self.socketOptions = socketOptions
        self.clientAccess = clientAccess
        self.onDemand = onDemand
        self.location = location
    }

    /// The first backend (the only one for `target:`): what an on-demand backend's readiness
    /// probe connects to. Setting it makes the service's backends this one address.
    public var target: TargetAddress {
        get { targets[0].address }
        set { targets = [BackendTarget(address: newValue)] }
    }

    /// Whether the service was written with `target:` alone and default balancing: printed that way.
    public var hasSingleTarget: Bool {
        targets.count == 1 && targets[0].isPlain && balancing == .standard
    }

    /// Equal in every setting, ignoring where it was written.
    public func sameSettings(as other: ServiceConfig) -> Bool {
        var a = self, b = other
        a.location = nil
        b.location = nil
        return a == b
    }
}

/// Options of a service's listening sockets: applied when znetd binds them itself, and written
/// into the generated `.socket` unit when systemd does.
public struct SocketOptions: Sendable, Hashable {
    /// listen(2) backlog: connections the kernel queues before znetd accepts them.
    public var backlog: Int
    /// IP_FREEBIND: bind to an address that is not (yet) configured on the host.
    public var freeBind: Bool
    /// SO_REUSEPORT: let another process bind the same address (and the kernel spread
    /// connections between them).
    public var reusePort: Bool

    /// The kernel's own cap (net.core.somaxconn) since Linux 5.4, and systemd's default.
    public static let defaultBacklog = 4096

    public init(backlog: Int = SocketOptions.defaultBacklog, freeBind: Bool = false, reusePort: Bool = false) {
        self.backlog = backlog
        self.freeBind = freeBind
        self.reusePort = reusePort
    }
}

/// TCP keepalive parameters (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT).
public struct Keepalive: Sendable, Hashable {
    public var idle: Duration
    public var interval: Duration
    public var count: Int

    /// What `keepalive: true` means.
    public static let standard = Keepalive(idle: .seconds(60), interval: .seconds(10), count: 6)

    public init(idle: Duration, interval: Duration, count: Int) {
        self.idle = idle
        self.interval = interval
        self.count = count
    }
}

/// Where a service accepts connections.
public enum ListenAddress: Sendable, Hashable {
    /// `host:port`, `[v6]:port`, or `:port` (host `nil`: every address, IPv4 and IPv6).
    /// The host is an IP literal without brackets.
    case inet(host: String?, port: UInt16)
    /// `unix:/path`, or `unix:@name` for the abstract namespace (path starts with "@").
    case unix(path: String)
    /// `interface:NAME:port`: every address of the network interface NAME.
    case interface(name: String, port: UInt16)
}

/// Where a service sends its connections.
public enum TargetAddress: Sendable, Hashable {
    /// `host:port` or `[v6]:port`; the host is an IP literal or a hostname (resolved at run time,
    /// every address tried in order).
    case inet(host: String, port: UInt16)
    /// `unix:/path`, or `unix:@name` for the abstract namespace.
    case unix(path: String)
    /// `exec:/path ARGS...` (only as `target:`): a program run for each connection prints where
    /// it goes (`host:port`), as ynetd's dynamic destinations.
    case program([String])
}

/// A place in a configuration file. Lines and columns count from 1.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}
