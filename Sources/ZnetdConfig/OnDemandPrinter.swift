extension OnDemand {
    /// The on-demand keys for ``Configuration/normalizedYAML()``, in a fixed order: `launcher`
    /// first, then every key that goes with it with its effective value. Keys that are not set
    /// (`working_directory`, `user`, `group`, `hooks.stop`, `hooks.check`, and `environment`
    /// when empty, which may then come from the unit property `Environment`) are left out.
    ///
    /// Commands are written as lists, `shell: false`: a shell command is already
    /// ["/bin/sh", "-c", STRING]. `environment`, `working_directory`, `user` and `group` are read
    /// from the command (for hooks, from `start`: the keys set all three alike).
    var normalizedYAMLLines: [String] {
        var lines: [String] = []
        var command: Command?
        switch launcher {
        case .process(let process):
            lines += ["launcher: process", "command: \(flowList(process.argv))", "shell: false"]
            command = process
        case .transientUnit(let name, let process, let properties):
            lines += [
                "launcher: transient-unit", "command: \(flowList(process.argv))", "shell: false",
                "unit_name: \(doubleQuoted(name))",
            ]
            if properties.isEmpty {
                lines.append("unit_properties: {}")
            } else {
                lines.append("unit_properties:")
                lines += properties.map { "  " + unitPropertyLine($0) }
            }
            command = process
        case .unit(let name):
            lines += ["launcher: unit", "unit: \(doubleQuoted(name))"]
        case .hooks(let start, let stop, let check):
            lines += ["launcher: hooks", "hooks:", "  start: \(flowList(start.argv))"]
            if let stop { lines.append("  stop: \(flowList(stop.argv))") }
            if let check { lines.append("  check: \(flowList(check.argv))") }
            command = start
        }
        if let command {
            let environment = command.environment.map { entry in
                let name = entry.prefix { $0 != "=" }
                return "\(name): \(doubleQuoted(String(entry.dropFirst(name.count + 1))))"
            }
            if !environment.isEmpty { lines.append("environment: {\(environment.joined(separator: ", "))}") }
            if let directory = command.workingDirectory { lines.append("working_directory: \(doubleQuoted(directory))") }
            if let user = command.user { lines.append("user: \(doubleQuoted(user))") }
            if let group = command.group { lines.append("group: \(doubleQuoted(group))") }
        }
        let readinessText = switch readiness {
        case .tcp: "tcp"
        case .notify: "notify"
        case .exec(let argv): doubleQuoted("exec:" + argv.joined(separator: " "))
        }
        return lines + [
            "ready: \(readinessText)",
            "wait_after_start: \(formatDuration(waitAfterStart))",
            "start_timeout: \(formatDuration(startTimeout))",
            "auto_start: \(autoStart)",
            "stop_after: \(stopAfter.map(formatDuration) ?? "infinity")",
            "stop_signal: \(formatStopSignal(stopSignal))",
            "stop_timeout: \(formatDuration(stopTimeout))",
            "min_uptime: \(formatDuration(minUptime))",
            "hand_off: \(handOff)",
            "max_pending: \(maxPending)",
            "start_limit_burst: \(startLimitBurst)",
            "start_limit_interval: \(formatDuration(startLimitInterval))",
        ]
    }
}

/// `["/usr/bin/app", "--port", "9090"]`.
private func flowList(_ items: [String]) -> String {
    "[" + items.map(doubleQuoted).joined(separator: ", ") + "]"
}

/// `MemoryMax: 512M`: the unit-file name and value; a property not in the table keeps its D-Bus
/// name (and does not read back).
private func unitPropertyLine(_ property: UnitProperty) -> String {
    guard let schema = UnitPropertySchema.withBusName(property.name) else {
        return "\(property.name): \(formatUnitPropertyValue(property.value))"
    }
    return "\(schema.name): \(schema.kind.format(property.value))"
}
