/// What one configuration file (or the `--proxy` arguments) says, before files are merged and
/// defaults applied. `nil` means "not written here".
struct ConfigFileContents {
    /// `.some(nil)`: written as `auto`.
    var threads: Int??
    var drainTimeout: Duration?
    var pipeSize: Int?
    var unitLayout: UnitLayout?
    var control: ControlSettings?
    var metricsListen: ListenAddress?
    var defaults = ServiceSettings()
    var services: [ServiceDefinition] = []
    var listeners: [ListenerDefinition] = []
}

/// A service as written in one place. Incomplete when its listen or target was missing or
/// invalid (which has been reported).
struct ServiceDefinition {
    struct Listen {
        var address: ListenAddress
        var location: SourceLocation
        var keyPath: String
    }

    var name: String
    var location: SourceLocation
    var listen: [Listen] = []
    /// `routes:`, each with where it was written.
    var routes: [RouteDefinition] = []
    var target: TargetAddress?
    /// From `targets:` or `tiers:` (then `target` is nil).
    var targets: [BackendTarget]?
    var settings = ServiceSettings()
}

/// The settings a service may take from `defaults:`, each `nil` where not written.
struct ServiceSettings {
    var connectTimeout: Duration?
    /// `.some(nil)`: written as `0` or `infinity`.
    var idleTimeout: Duration??
    var maxConnections: Int?
    /// `.some(nil)`: written as `false`.
    var keepalive: Keepalive??
    var logConnections: Bool?
    var backlog: Int?
    var freeBind: Bool?
    var reusePort: Bool?
    var allow: [AddressPattern]?
    var deny: [AddressPattern]?
    var balancing = BalancingSettings()
    /// For a service, every on-demand key it writes (its launcher too); for `defaults:`, those
    /// it may set. Combined in `OnDemandResolution.swift`, not by ``filling(from:)``.
    var onDemand = OnDemandSettings()

    /// What a service gets for a setting written nowhere.
    static let builtIn = ServiceSettings(
        connectTimeout: ServiceConfig.defaultConnectTimeout,
        idleTimeout: .some(nil),
        maxConnections: ServiceConfig.defaultMaxConnections,
        keepalive: .some(nil),
        logConnections: false,
        backlog: SocketOptions.defaultBacklog,
        freeBind: false,
        reusePort: false,
        allow: [],
        deny: [])

    /// These settings, with every setting not written here taken from `fallback`.
    ///
    /// On-demand keys merge the same way; this is for `defaults:` written in several files. A
    /// service takes its on-demand defaults only where they apply to its launcher
    /// (``ServiceDefinition/onDemand(defaults:errors:)``).
    func filling(from fallback: ServiceSettings) -> ServiceSettings {
        ServiceSettings(
            connectTimeout: connectTimeout ?? fallback.connectTimeout,
            idleTimeout: idleTimeout ?? fallback.idleTimeout,
            maxConnections: maxConnections ?? fallback.maxConnections,
            keepalive: keepalive ?? fallback.keepalive,
            logConnections: logConnections ?? fallback.logConnections,
            backlog: backlog ?? fallback.backlog,
            freeBind: freeBind ?? fallback.freeBind,
            reusePort: reusePort ?? fallback.reusePort,
            allow: allow ?? fallback.allow,
            deny: deny ?? fallback.deny,
            balancing: balancing.filling(from: fallback.balancing),
            onDemand: onDemand.filling(from: fallback.onDemand))
    }
}

extension ServiceDefinition {
    /// The service with `defaults` and then the built-in defaults applied, and `onDemand` (see
    /// ``onDemand(defaults:errors:)``); `nil` when incomplete.
    func resolved(defaults: ServiceSettings, onDemand: OnDemand?) -> ServiceConfig? {
        guard let targets = targets ?? target.map({ [BackendTarget(address: $0)] }), !targets.isEmpty,
              !listen.isEmpty || !routes.isEmpty else { return nil }
        let settings = settings.filling(from: defaults).filling(from: .builtIn)
        return ServiceConfig(
            name: name,
            listen: listen.map(\.address),
            routes: routes.map(\.route),
            target: targets[0].address,
            targets: targets,
            balancing: settings.balancing.resolved,
            connectTimeout: settings.connectTimeout!,
            idleTimeout: settings.idleTimeout!,
            maxConnections: settings.maxConnections!,
            keepalive: settings.keepalive!,
            logConnections: settings.logConnections!,
            socketOptions: SocketOptions(
                backlog: settings.backlog!, freeBind: settings.freeBind!, reusePort: settings.reusePort!),
            clientAccess: ClientAccess(allow: settings.allow!, deny: settings.deny!),
            onDemand: onDemand,
            location: location)
    }
}
