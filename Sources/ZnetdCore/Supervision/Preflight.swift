public import ZnetdConfig

/// Checks of a configuration against this machine, before anything starts: that every
/// program a backend needs can be run (found, executable, its user, group and working
/// directory exist). The configuration itself is valid by then; these are facts it cannot
/// know. `znetd check`, start-up and every reload run them.
public enum Preflight {
    /// Problems, each naming the service and key; empty when all is well.
    /// `askSystemd` also asks systemd whether each `unit:` exists: a blocking D-Bus call of up
    /// to a few seconds, for `znetd check` only, never in the daemon.
    public static func problems(in configuration: Configuration, askSystemd: Bool = false) -> [String] {
        var problems: [String] = []
        for service in configuration.services {
            let place = service.location.map { "\($0): " } ?? ""
            func check(_ command: Command, _ key: String) {
                do {
                    _ = try SpawnRequest.check(command)
                } catch {
                    problems.append("\(place)services.\(service.name).\(key): \(error)")
                }
            }
            if case .program(let argv) = service.target { check(Command(argv: argv), "target") }
            if case .exec(let argv)? = service.balancing.health.probe { check(Command(argv: argv), "health") }
            guard let onDemand = service.onDemand else { continue }
            switch onDemand.launcher {
            case .process(let command), .transientUnit(_, let command, _):
                check(command, "command")
            case .hooks(let start, let stop, let probe):
                check(start, "hooks.start")
                if let stop { check(stop, "hooks.stop") }
                if let probe { check(probe, "hooks.check") }
            case .unit(let unit):
                guard askSystemd else { break }
                // Without a bus (not booted with systemd) there is nothing to ask: not an error.
                if let state = try? SystemdUnits.loadState(of: unit), state != "loaded" {
                    problems.append("\(place)services.\(service.name).unit: unknown unit \(unit) (systemd says its load state is '\(state)')")
                }
            }
            if case .exec(let argv) = onDemand.readiness {
                check(Command(argv: argv), "ready")
            }
        }
        return problems
    }
}
