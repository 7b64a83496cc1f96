import Synchronization

/// The services a shared listener can route to, by name, readable from every loop.
///
/// The daemon keeps it in step with its services (start, reload); a route naming a service
/// that is not here (removed by a reload, or registered before its service) answers 502.
public final class ServiceDirectory: Sendable {
    private let services = Mutex<[String: ServiceRuntime]>([:])

    public init() {}

    public func service(named name: String) -> ServiceRuntime? {
        services.withLock { $0[name] }
    }

    public func set(_ service: ServiceRuntime) {
        services.withLock { $0[service.name] = service }
    }

    public func remove(named name: String) {
        services.withLock { _ = $0.removeValue(forKey: name) }
    }
}
