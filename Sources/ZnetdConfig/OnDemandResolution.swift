/// Combining a service's on-demand keys with `defaults:` into an ``OnDemand``, once every file
/// is read: the launcher, the keys that do not go with it, what it needs, and what the service
/// takes from `defaults:`.
///
/// A key the service writes itself must go with its launcher (an error otherwise). A key from
/// `defaults:` applies only where it can: not at all to a service without a launcher, and not
/// where the launcher cannot use it (`user` for `launcher: unit`, `hand_off: true` for anything
/// but `launcher: process`, ...), which then gets the built-in value.
extension ServiceDefinition {
    /// The service's ``OnDemand``; `nil` for a plain service, or when a problem was found (and
    /// appended to `errors`).
    func onDemand(defaults: OnDemandSettings, errors: inout [ConfigError]) -> OnDemand? {
        let own = settings.onDemand
        func report(_ message: String, at key: String) {
            guard let entry = own.written[key] else { preconditionFailure("'\(key)' reported but not written") }
            errors.append(ConfigError(location: entry.keyNode.location, keyPath: entry.path, message: message))
        }
        let ownKeys = own.written.values
            .sorted { ($0.keyNode.location.line, $0.keyNode.location.column) < ($1.keyNode.location.line, $1.keyNode.location.column) }
            .map(\.key)

        // The launcher: as written, or from the one of command, unit and hooks written.
        var checked: Set<String> = ["launcher"]
        let kind: LauncherKind
        let isExplicit = own.written["launcher"] != nil
        if isExplicit {
            guard let written = own.launcher else { return nil }
            kind = written
        } else {
            let defining = ownKeys.filter { LauncherKind.implied[$0] != nil }
            for extra in defining.dropFirst() {
                report(
                    "'\(extra)' conflicts with '\(defining[0])' at line \(own.place(of: defining[0])!.line); "
                        + "a service has one launcher: command, unit or hooks",
                    at: extra)
                checked.insert(extra)
            }
            kind = defining.first.flatMap { LauncherKind.implied[$0] } ?? .none
        }

        // Keys the service writes that do not go with its launcher.
        for key in ownKeys where !checked.contains(key) {
            if kind == .none {
                report(
                    isExplicit
                        ? "'\(key)' needs a launcher; this service has launcher: none"
                        : "'\(key)' needs a launcher: set command, unit or hooks",
                    at: key)
            } else if let allowed = launchers(for: key, in: own), !allowed.contains(kind) {
                report(launcherMismatch(key, allowed: allowed, kind: kind), at: key)
            }
        }
        guard kind != .none else { return nil }

        // What the launcher needs.
        if let required = kind.requiredKey, own.written[required.key] == nil {
            report(
                "launcher: \(kind.rawValue) needs '\(required.key)', such as \(required.key): \(required.example)",
                at: "launcher")
            return nil
        }

        // Every other setting: the service's own, else the default where it applies.
        func source(_ key: String) -> SchemaDecoder.Entry? {
            if let entry = own.written[key] { return entry }
            if let allowed = launchers(for: key, in: defaults), !allowed.contains(kind) { return nil }
            return defaults.written[key]
        }
        func effective<Value>(_ key: String, _ field: KeyPath<OnDemandSettings, Value?>) -> Value? {
            if own.written[key] != nil { return own[keyPath: field] }
            return source(key) == nil ? nil : defaults[keyPath: field]
        }
        let readiness = effective("ready", \.readiness) ?? .tcp
        func command(_ argv: [String]) -> Command {
            Command(
                argv: argv, environment: effective("environment", \.environment) ?? [],
                workingDirectory: effective("working_directory", \.workingDirectory),
                user: effective("user", \.user), group: effective("group", \.group))
        }
        let launcher: Launcher
        switch kind {
        case .process:
            guard let argv = own.command else { return nil }
            launcher = .process(command(argv))
        case .transientUnit:
            guard let argv = own.command else { return nil }
            let properties = effective("unit_properties", \.unitProperties) ?? []
            for clash in unitPropertyClashes(properties, readiness: readiness, keySource: source) {
                let propertyFromDefaults = own.written["unit_properties"] == nil
                let keyFromDefaults = own.written[clash.key.key] == nil
                if propertyFromDefaults && keyFromDefaults { continue }  // reported once, at defaults
                errors.append(propertyFromDefaults ? clash.errorAtKey : clash.errorAtProperty)
            }
            launcher = .transientUnit(
                name: own.unitName ?? defaultTransientUnitName(service: name), command: command(argv),
                properties: properties.map(\.property))
        case .unit:
            guard let unit = own.unit else { return nil }
            launcher = .unit(name: unit)
        case .hooks:
            guard let hooks = own.hooks else { return nil }
            launcher = .hooks(start: command(hooks.start), stop: hooks.stop.map(command), check: hooks.check.map(command))
        case .none:
            preconditionFailure("a service without a launcher has no OnDemand")
        }
        return OnDemand(
            launcher: launcher,
            readiness: readiness,
            waitAfterStart: effective("wait_after_start", \.waitAfterStart) ?? .zero,
            startTimeout: effective("start_timeout", \.startTimeout) ?? OnDemand.defaultStartTimeout,
            autoStart: effective("auto_start", \.autoStart) ?? false,
            stopAfter: effective("stop_after", \.stopAfter) ?? nil,
            stopSignal: effective("stop_signal", \.stopSignal) ?? .terminate,
            stopTimeout: effective("stop_timeout", \.stopTimeout) ?? OnDemand.defaultStopTimeout,
            minUptime: effective("min_uptime", \.minUptime) ?? .zero,
            handOff: effective("hand_off", \.handOff) ?? false,
            maxPending: effective("max_pending", \.maxPending) ?? OnDemand.defaultMaxPending,
            startLimitBurst: effective("start_limit_burst", \.startLimitBurst) ?? OnDemand.defaultStartLimitBurst,
            startLimitInterval: effective("start_limit_interval", \.startLimitInterval)
                ?? OnDemand.defaultStartLimitInterval)
    }
}

extension OnDemandSettings {
    /// Unit properties in `defaults:` that clash with keys also in `defaults:` (see
    /// ``unitPropertyClashes(_:readiness:keySource:)``); clashes that involve a service's own
    /// keys are reported at the service.
    var defaultsClashes: [ConfigError] {
        unitPropertyClashes(unitProperties ?? [], readiness: readiness) { written[$0] }.map(\.errorAtProperty)
    }
}

extension LauncherKind {
    /// The launcher a service has when it writes this key and no `launcher`.
    static let implied: [String: LauncherKind] = ["command": .process, "unit": .unit, "hooks": .hooks]

    /// The key this launcher cannot do without, and an example of it.
    var requiredKey: (key: String, example: String)? {
        switch self {
        case .process, .transientUnit: ("command", SchemaDecoder.commandExample)
        case .unit: ("unit", "postgresql.service")
        case .hooks: ("hooks", "{start: \(SchemaDecoder.hookExample)}")
        case .none: nil
        }
    }
}

/// The launchers each launcher-specific key goes with; other keys go with every launcher.
private let launchersOfKey: [String: [LauncherKind]] = [
    "command": [.process, .transientUnit],
    "shell": [.process, .transientUnit],
    "unit": [.unit],
    "unit_name": [.transientUnit],
    "unit_properties": [.transientUnit],
    "hooks": [.hooks],
    // znetd runs these programs; an existing unit runs as its unit file says.
    "environment": [.process, .transientUnit, .hooks],
    "working_directory": [.process, .transientUnit, .hooks],
    "user": [.process, .transientUnit, .hooks],
    "group": [.process, .transientUnit, .hooks],
]

/// The launchers `key`, with its value in `settings`, goes with; `nil`: every launcher.
private func launchers(for key: String, in settings: OnDemandSettings) -> [LauncherKind]? {
    switch key {
    // Only znetd's own child can be handed the listening sockets.
    case "hand_off": settings.handOff == true ? [.process] : nil
    // znetd can give a NOTIFY_SOCKET only to what it starts with a command.
    case "ready": settings.readiness == .notify ? [.process, .transientUnit] : nil
    default: launchersOfKey[key]
    }
}

/// The message for a key the service writes that does not go with its launcher.
private func launcherMismatch(_ key: String, allowed: [LauncherKind], kind: LauncherKind) -> String {
    let label = switch key {
    case "hand_off": "hand_off: true"
    case "ready": "ready: notify"
    default: key
    }
    let names = allowed.map(\.rawValue)
    let list = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " or " + names.last!
    var message = "'\(label)' needs launcher: \(list) (this service's launcher is \(kind.rawValue)"
    if key == "ready" { message += "; znetd cannot give it a NOTIFY_SOCKET" }
    return message + ")"
}

/// A unit property that says what a key says too (`User` and `user`), or the opposite
/// (`Type: simple` and `ready: notify`): with both, which one counts would be a guess.
private struct UnitPropertyClash {
    var property: WrittenUnitProperty
    var key: SchemaDecoder.Entry
    /// The key as messages name it (`user`, `ready: notify`).
    var label: String
    var advice: String

    var errorAtProperty: ConfigError {
        ConfigError(
            location: property.entry.keyNode.location, keyPath: property.entry.path,
            message: "unit property '\(property.name)' conflicts with '\(label)' at \(key.keyNode.location); \(advice)")
    }

    var errorAtKey: ConfigError {
        ConfigError(
            location: key.keyNode.location, keyPath: key.path,
            message: "'\(label)' conflicts with unit property '\(property.name)' at "
                + "\(property.entry.keyNode.location); \(advice)")
    }
}

/// Unit properties that each set what a key sets for every command.
private let propertiesOfKeys = [
    "User": "user", "Group": "group", "WorkingDirectory": "working_directory", "Environment": "environment",
]

/// The clashes between `properties` and the keys `keySource` finds (the entry a setting comes
/// from, or `nil` when it is not set).
private func unitPropertyClashes(
    _ properties: [WrittenUnitProperty], readiness: Readiness?,
    keySource: (String) -> SchemaDecoder.Entry?
) -> [UnitPropertyClash] {
    properties.compactMap { property in
        if let key = propertiesOfKeys[property.name], let entry = keySource(key) {
            return UnitPropertyClash(property: property, key: entry, label: key, advice: "set one of them")
        }
        if property.name == "Type", property.property.value != .string("notify"), readiness == .notify,
            let entry = keySource("ready")
        {
            return UnitPropertyClash(
                property: property, key: entry, label: "ready: notify", advice: "leave Type out or set it to notify")
        }
        return nil
    }
}
