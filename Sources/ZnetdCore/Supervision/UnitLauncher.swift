import ZnetdConfig

/// launcher: unit and launcher: transient-unit. The backend is a systemd unit, started and
/// stopped over D-Bus; systemd does the process work (cgroups, limits, its own stop
/// semantics) and znetd watches the unit's state to learn that it ended on its own.
final class UnitLauncher: BackendLauncher {
    /// What kind of unit, and for a transient one how to create it.
    enum Flavor {
        case existing
        case transient(command: Command, properties: [UnitProperty], service: String)
    }

    let kind: String
    private let unit: String
    private let flavor: Flavor
    private let units: SystemdUnits
    private var watch: UnitWatch?
    private var running = false
    var onExit: ((String) -> Void)?

    init(unit: String, flavor: Flavor, units: SystemdUnits) {
        self.unit = unit
        self.flavor = flavor
        self.units = units
        if case .transient = flavor { kind = "transient-unit" } else { kind = "unit" }
    }

    func start(environment: [String], _ started: @escaping (Result<Void, LaunchError>) -> Void) {
        let done: (Result<JobOutcome, UnitError>) -> Void = { [self] result in
            switch result {
            case .success:
                running = true
                follow()
                started(.success(()))
            case .failure(let error):
                started(.failure(LaunchError(UnitLauncher.explain(error))))
            }
        }
        switch flavor {
        case .existing:
            units.startUnit(name: unit, completion: done)
        case .transient(let command, let properties, let service):
            let create = { [self] in
                units.startTransientUnit(
                    name: unit, description: "znetd backend of service \(service)", command: command,
                    properties: properties, extraEnvironment: environment, completion: done)
            }
            // A unit of this name left from an earlier run (failed, still referenced) would make
            // the start fail with UnitExists: stop and release it first.
            units.unitState(name: unit) { [self] state in
                if case .success(let state) = state, state.loadState == "loaded" {
                    units.stopUnit(name: unit) { _ in create() }
                } else {
                    create()
                }
            }
        }
    }

    func stop(signal: StopSignal, timeout: Duration, _ stopped: @escaping () -> Void) {
        running = false
        units.stopUnit(name: unit) { _ in stopped() }
    }

    /// A unit that is active (or starting) when znetd starts is taken over.
    func adopt(_ found: @escaping (Bool) -> Void) {
        units.unitState(name: unit) { [self] result in
            guard case .success(let state) = result, state.activeState == "active" else { return found(false) }
            running = true
            follow()
            found(true)
        }
    }

    /// dbus-daemon drops a DynamicUser= client at Hello (PID 1 sets SYSTEMD_NSS_DYNAMIC_BYPASS
    /// for it), which reads as a closed connection; say what to change.
    static func explain(_ error: UnitError) -> String {
        switch error.kind {
        case .disconnected, .noBus:
            return "\(error) (the system bus refused znetd: unit launchers need znetd to run as root "
                + "without DynamicUser=, or as a user a polkit rule allows to manage units)"
        default:
            return "\(error)"
        }
    }

    private func follow() {
        guard watch == nil else { return }
        watch = units.watchUnit(name: unit) { [weak self] state in
            guard let self, running else { return }
            if state.activeState == "failed" || state.activeState == "inactive" {
                running = false
                onExit?("unit \(unit) is \(state.activeState) (\(state.subState))")
            }
        }
    }
}
