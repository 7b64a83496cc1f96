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
        case .unit(let unit):
            return UnitLauncher(unit: unit, flavor: .existing, units: systemdUnits)
        case .transientUnit(let unit, let command, var properties):
            if case .notify = onDemand.readiness, !properties.contains(where: { $0.name == "Type" }) {
                // Ready when systemd says so: the start job of a Type=notify unit ends at READY=1.
                properties.append(UnitProperty(name: "Type", value: .string("notify")))
            }
            return UnitLauncher(unit: unit, flavor: .transient(command: command, properties: properties, service: name),
                                units: systemdUnits)
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
