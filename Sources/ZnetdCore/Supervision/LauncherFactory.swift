import ZnetdConfig

extension Daemon {
    /// The launcher a service's configuration asks for.
    func makeLauncher(for config: ServiceConfig, _ onDemand: OnDemand) -> any BackendLauncher {
        let name = config.name
        switch onDemand.launcher {
        case .process(let command):
            return ProcessLauncher(service: name, command: command, reaper: reaper, loop: control) { [unowned self] in
                guard onDemand.handOff else { return [] }
                return sockets[name, default: []].map { HandOffSocket(fd: $0.fd, name: name) }
            }
        case .hooks(let start, let stop, let check):
            return HookLauncher(service: name, start: start, stop: stop, check: check,
                                endpoints: { [unowned self] in services[name]!.snapshot.endpoints },
                                reaper: reaper, loop: control)
        case .transientUnit, .unit:
            return UnavailableLauncher(kind: onDemand.launcher.kind)
        }
    }
}

extension Launcher {
    /// The name used in logs, status and the journal field ZNETD_LAUNCHER.
    var kind: String {
        switch self {
        case .process: "process"
        case .transientUnit: "transient-unit"
        case .unit: "unit"
        case .hooks: "hooks"
        }
    }
}

/// Placeholder until the systemd unit launchers land.
final class UnavailableLauncher: BackendLauncher {
    let kind: String
    var onExit: ((String) -> Void)?
    init(kind: String) { self.kind = kind }
    func start(environment: [String], _ started: @escaping (Result<Void, LaunchError>) -> Void) {
        started(.failure(LaunchError("launcher not available")))
    }
    func stop(signal: StopSignal, timeout: Duration, _ stopped: @escaping () -> Void) { stopped() }
}
