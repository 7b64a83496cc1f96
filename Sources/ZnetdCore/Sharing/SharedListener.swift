public import Logging
public import Synchronization
public import ZnetdConfig
public import ZnetdHTTP

/// A listener shared by several services (`listeners:`): its settings and its route table,
/// shared by every event loop.
///
/// Routes are data: the configured ones (replaced on reload) and the ones registered at run
/// time (``addRoute(_:)``/``removeRoute(_:)``, kept across reloads) make one table, which each
/// new request (http) or connection (tcp) reads. A change applies to the next request without
/// a reload; requests in flight keep their service.
public final class SharedListener: Sendable {
    public let name: String
    public let logger: Logger
    /// Where route targets are looked up.
    let directory: ServiceDirectory
    private let state: Mutex<State>
    /// The certificates of a TLS listener, replaced whole by a reload; connections keep the
    /// store they started with.
    private let certificateStore = Mutex<TLSCertificateStore?>(nil)
    /// Client connections open now.
    public let active = Atomic<Int>(0)
    public let accepted = Atomic<UInt64>(0)
    /// Requests (http) or connections (tcp) routed to a service.
    public let routed = Atomic<UInt64>(0)
    /// Requests (http, answered 404) or connections (tcp, closed) that matched no route.
    public let unrouted = Atomic<UInt64>(0)

    private struct State {
        var config: ListenerConfig
        var configured: [HTTPRouteTable.Route]
        var registered: [HTTPRouteTable.Route] = []
        var table: HTTPRouteTable
    }

    public init(config: ListenerConfig, routes: [HTTPRouteTable.Route], directory: ServiceDirectory, logger: Logger) {
        name = config.name
        var logger = logger
        logger[metadataKey: "listener"] = "\(config.name)"
        self.logger = logger
        self.directory = directory
        state = Mutex(State(config: config, configured: routes, table: HTTPRouteTable(routes)))
    }

    public var config: ListenerConfig { state.withLock { $0.config } }

    /// nil: plain HTTP (or a tcp listener).
    public var certificates: TLSCertificateStore? {
        get { certificateStore.withLock { $0 } }
        set { certificateStore.withLock { $0 = newValue } }
    }

    /// Loads the certificates `config` names (files, or `credential:NAME`); nil without `tls:`.
    public static func loadCertificates(_ config: ListenerConfig) throws(TLSError) -> TLSCertificateStore? {
        guard let tls = config.tls else { return nil }
        var loaded: [TLSCertificate] = []
        for files in tls.certificates {
            loaded.append(try TLSCertificate(certificate: files.certificate.description, key: files.key.description))
        }
        return TLSCertificateStore(loaded)
    }

    /// The table new requests are routed with.
    public var routeTable: HTTPRouteTable { state.withLock { $0.table } }

    /// The routes from the configuration and those registered at run time, apart.
    public var routesBySource: (configured: [HTTPRouteTable.Route], registered: [HTTPRouteTable.Route]) {
        state.withLock { ($0.configured, $0.registered) }
    }

    /// Every route now in force: configured, then registered.
    public var routes: [HTTPRouteTable.Route] { state.withLock { $0.configured + $0.registered } }

    /// Adds a route at run time. False if the same host and path already go somewhere.
    @discardableResult
    public func addRoute(_ route: HTTPRouteTable.Route) -> Bool {
        state.withLock { s in
            let all = s.configured + s.registered
            guard !all.contains(where: { $0.host == route.host && $0.pathPrefix == route.pathPrefix }) else { return false }
            s.registered.append(route)
            s.table = HTTPRouteTable(s.configured + s.registered)
            return true
        }
    }

    /// Removes a route added at run time. False if there was none.
    @discardableResult
    public func removeRoute(_ route: HTTPRouteTable.Route) -> Bool {
        state.withLock { s in
            guard let index = s.registered.firstIndex(of: route) else { return false }
            s.registered.remove(at: index)
            s.table = HTTPRouteTable(s.configured + s.registered)
            return true
        }
    }

    /// A reload: new settings and configured routes; registered routes stay.
    public func update(config: ListenerConfig, routes: [HTTPRouteTable.Route]) {
        state.withLock { s in
            s.config = config
            s.configured = routes
            s.table = HTTPRouteTable(routes + s.registered)
        }
    }

    /// The routes the configuration gives listener `name`.
    public static func configuredRoutes(of name: String, in configuration: Configuration) -> [HTTPRouteTable.Route] {
        configuration.services.flatMap { service in
            service.routes.filter { $0.listener == name }.compactMap { route in
                HTTPRouteTable.HostPattern(route.host ?? "*").map {
                    HTTPRouteTable.Route(host: $0, pathPrefix: route.path ?? "/", service: service.name)
                }
            }
        }
    }
}
