import ZnetdConfig

extension Daemon {
    /// The launcher a service's configuration asks for.
    func makeLauncher(for config: ServiceConfig, _ onDemand: OnDemand) -> any BackendLauncher {
        UnavailableLauncher(kind: "\(onDemand.launcher)")
    }
}

/// Placeholder until the launchers land.
final class UnavailableLauncher: BackendLauncher {
    let kind: String
    var onExit: ((String) -> Void)?
    init(kind: String) { self.kind = kind }
    func start(environment: [String], _ started: @escaping (Result<Void, LaunchError>) -> Void) {
        started(.failure(LaunchError("launcher not available")))
    }
    func stop(signal: StopSignal, timeout: Duration, _ stopped: @escaping () -> Void) { stopped() }
}
