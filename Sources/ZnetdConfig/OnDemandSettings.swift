/// The on-demand keys as written in one mapping (a service, or `defaults:`), before they are
/// combined into an ``OnDemand``. Each value is `nil` where not written, or written but invalid
/// (which has been reported); ``written`` tells the two apart.
struct OnDemandSettings {
    /// Every on-demand key written here, valid or not: where it was written, for messages about
    /// keys that do not go together.
    var written: [String: SchemaDecoder.Entry] = [:]

    // Only a service sets these (they define its launcher).
    var launcher: LauncherKind?
    /// `shell` is read with `command`: a string under `shell: true` is already ["/bin/sh", "-c", STRING].
    var shell: Bool?
    var command: [String]?
    var unit: String?
    var unitName: String?
    var hooks: HookCommands?

    // A service takes these from `defaults:` where it does not write them.
    /// "NAME=value" entries in file order.
    var environment: [String]?
    var workingDirectory: String?
    var user: String?
    var group: String?
    var unitProperties: [WrittenUnitProperty]?
    var readiness: Readiness?
    var waitAfterStart: Duration?
    var startTimeout: Duration?
    var autoStart: Bool?
    /// `.some(nil)`: written as `infinity`.
    var stopAfter: Duration??
    var stopSignal: StopSignal?
    var stopTimeout: Duration?
    var minUptime: Duration?
    var handOff: Bool?
    var maxPending: Int?
    var startLimitBurst: Int?
    var startLimitInterval: Duration?

    /// Where `key` was written, as a place for a message; `nil` when it was not.
    func place(of key: String) -> SourceLocation? {
        written[key]?.keyNode.location
    }

    /// These settings, with every key not written here taken from `fallback` (for `defaults:`
    /// written in several files: a later file's key wins).
    func filling(from fallback: OnDemandSettings) -> OnDemandSettings {
        // A value is set only where its key is written (SchemaDecoder.onDemandSetting): with
        // nothing written in `fallback` there is nothing to take. The usual case (no on-demand
        // `defaults:`), and the key-path walk below is the costly part of a generator run's merge.
        if fallback.written.isEmpty { return self }
        var filled = self
        filled.written = written.merging(fallback.written) { mine, _ in mine }
        func fill<Value>(_ key: String, _ field: WritableKeyPath<OnDemandSettings, Value?>) {
            if written[key] == nil { filled[keyPath: field] = fallback[keyPath: field] }
        }
        fill("launcher", \.launcher)
        fill("shell", \.shell)
        fill("command", \.command)
        fill("unit", \.unit)
        fill("unit_name", \.unitName)
        fill("hooks", \.hooks)
        fill("environment", \.environment)
        fill("working_directory", \.workingDirectory)
        fill("user", \.user)
        fill("group", \.group)
        fill("unit_properties", \.unitProperties)
        fill("ready", \.readiness)
        fill("wait_after_start", \.waitAfterStart)
        fill("start_timeout", \.startTimeout)
        fill("auto_start", \.autoStart)
        fill("stop_after", \.stopAfter)
        fill("stop_signal", \.stopSignal)
        fill("stop_timeout", \.stopTimeout)
        fill("min_uptime", \.minUptime)
        fill("hand_off", \.handOff)
        fill("max_pending", \.maxPending)
        fill("start_limit_burst", \.startLimitBurst)
        fill("start_limit_interval", \.startLimitInterval)
        return filled
    }
}

/// The `launcher:` values; see ``Launcher``.
enum LauncherKind: String, CaseIterable {
    case process
    case transientUnit = "transient-unit"
    case unit
    case hooks
    case none
}

/// `hooks:` as read: argv lists (a string has become ["/bin/sh", "-c", STRING]).
struct HookCommands {
    var start: [String]
    var stop: [String]?
    var check: [String]?
}

/// One entry of `unit_properties:`, with where it was written.
struct WrittenUnitProperty {
    /// The unit-file name, as written (`CPUQuota`).
    var name: String
    var property: UnitProperty
    var entry: SchemaDecoder.Entry
}
