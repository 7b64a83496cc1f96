/// The schema of the on-demand keys of a service and of `defaults:` (see ``OnDemandSettings``).
///
/// This reads each key on its own; which keys go together, and what a service takes from
/// `defaults:`, is decided once every file is read (`OnDemandResolution.swift`).
extension SchemaDecoder {
    /// Every on-demand key, in the order messages and the README list them.
    static let onDemandKeys = [
        "command", "shell", "environment", "working_directory", "user", "group",
        "launcher", "unit", "unit_name", "unit_properties", "hooks",
        "ready", "wait_after_start", "start_timeout", "auto_start",
        "stop_after", "stop_signal", "stop_timeout", "min_uptime", "hand_off",
        "max_pending", "start_limit_burst", "start_limit_interval",
    ]
    /// On-demand keys only a service itself may set: they define its launcher.
    static let launcherKeys = ["command", "shell", "launcher", "unit", "unit_name", "hooks"]
    static let hookKeys = ["start", "stop", "check"]

    static let commandExample = "[\"/usr/bin/app\", \"--port\", \"9090\"]"
    static let hookExample = "[\"/usr/local/bin/vm\", \"start\", \"app\"]"

    /// Reads one on-demand key into `settings`. `command` waits for ``finishCommand(_:)``.
    mutating func onDemandSetting(_ entry: Entry, into settings: inout OnDemandSettings) {
        settings.written[entry.key] = entry
        switch entry.key {
        case "command":
            break
        case "shell":
            settings.shell = bool(entry)
        case "environment":
            settings.environment = environment(entry)
        case "working_directory":
            settings.workingDirectory = value(entry, expected: "an absolute path such as /srv/app") {
                isAbsolutePath($0) ? $0 : nil
            }
        case "user":
            settings.user = value(entry, expected: "a user name or number, such as app or 1000") {
                isValidUserOrGroup($0) ? $0 : nil
            }
        case "group":
            settings.group = value(entry, expected: "a group name or number, such as app or 1000") {
                isValidUserOrGroup($0) ? $0 : nil
            }
        case "launcher":
            let names = LauncherKind.allCases.map(\.rawValue)
            settings.launcher = value(
                entry, expected: names.dropLast().joined(separator: ", ") + " or " + names.last!,
                parse: LauncherKind.init(rawValue:))
        case "unit":
            settings.unit = value(entry, expected: "a unit name ending in .service or .target, such as postgresql.service") {
                isValidUnitName($0, suffixes: [".service", ".target"], allowInstance: true) ? $0 : nil
            }
        case "unit_name":
            settings.unitName = value(
                entry, expected: "a unit name ending in .service, of letters, digits, ':', '_', '.' and '-' "
                    + "(at most \(maximumUnitNameLength) characters), such as znetd-web-backend.service"
            ) {
                isValidUnitName($0, suffixes: [".service"]) && !$0.contains("\\") ? $0 : nil
            }
        case "unit_properties":
            settings.unitProperties = unitProperties(entry)
        case "hooks":
            settings.hooks = hooks(entry)
        case "ready":
            settings.readiness = readiness(entry)
        case "wait_after_start":
            settings.waitAfterStart = value(entry, expected: "a duration such as 0s, 500ms or 2s", parse: parseDuration)
        case "start_timeout":
            settings.startTimeout = positiveDuration(entry)
        case "auto_start":
            settings.autoStart = bool(entry)
        case "stop_after":
            settings.stopAfter = value(entry, expected: "a duration greater than zero, such as 5m or 1h, or infinity") {
                text -> Duration?? in
                if text == "infinity" { return .some(nil) }
                guard let duration = parseDuration(text), duration > .zero else { return nil }
                return duration
            }
        case "stop_signal":
            settings.stopSignal = value(
                entry, expected: "a signal such as TERM, INT, HUP, QUIT, KILL, USR1, USR2, WINCH or RTMIN+N, "
                    + "or a number from 1 to 64",
                parse: parseStopSignal)
        case "stop_timeout":
            settings.stopTimeout = positiveDuration(entry)
        case "min_uptime":
            settings.minUptime = value(entry, expected: "a duration such as 0s, 500ms or 2s", parse: parseDuration)
        case "hand_off":
            settings.handOff = bool(entry)
        case "max_pending":
            settings.maxPending = integer(entry, in: 1...1_000_000)
        case "start_limit_burst":
            settings.startLimitBurst = integer(entry, in: 1...1000)
        case "start_limit_interval":
            settings.startLimitInterval = positiveDuration(entry)
        default:
            preconditionFailure("'\(entry.key)' is in onDemandKeys but has no decoder")
        }
    }

    /// Reads `command` once the whole mapping, and so `shell`, has been read: a list of program
    /// and arguments, or with `shell: true` one string, run as ["/bin/sh", "-c", STRING].
    mutating func finishCommand(_ settings: inout OnDemandSettings) {
        guard let entry = settings.written["command"] else { return }
        // nil: `shell` is invalid (reported), so either form is taken.
        let shell: Bool? = settings.written["shell"] == nil ? false : settings.shell
        switch (entry.value.content, shell) {
        case (.sequence, true?):
            report("expected one string for /bin/sh -c (shell is true); found a sequence", at: entry.value, path: entry.path)
        case (.scalar(let text, _), false?) where !entry.value.isNull:
            report(
                "expected a list of program and arguments, such as \(Self.commandExample); found '\(text)' "
                    + "(set shell: true to run a string with /bin/sh -c)",
                at: entry.value, path: entry.path)
        default:
            let expected = switch shell {
            case true?: "one string for /bin/sh -c (shell is true)"
            case false?: "a list of program and arguments, such as \(Self.commandExample)"
            case nil: "a list of program and arguments, such as \(Self.commandExample), or a string with shell: true"
            }
            settings.command = commandLine(entry.value, path: entry.path, expected: expected)
        }
    }

    /// A duration greater than zero.
    private mutating func positiveDuration(_ entry: Entry) -> Duration? {
        value(entry, expected: "a duration greater than zero, such as 10s or 1m") {
            parseDuration($0).flatMap { $0 > .zero ? $0 : nil }
        }
    }

    /// A list of program and arguments, or a string, which becomes ["/bin/sh", "-c", STRING].
    private mutating func commandLine(_ node: YAMLNode, path: String, expected: String) -> [String]? {
        switch node.content {
        case .scalar(let text, _) where !node.isNull:
            guard !text.isEmpty else {
                report("expected \(expected); found ''", at: node, path: path)
                return nil
            }
            guard !text.contains("\0") else {
                report("a command cannot hold a NUL character", at: node, path: path)
                return nil
            }
            return ["/bin/sh", "-c", text]
        case .sequence(let items) where !items.isEmpty:
            let errorCount = errors.count
            var argv: [String] = []
            for (index, item) in items.enumerated() {
                let itemPath = path.keyPath(index: index)
                guard case .scalar(let text, _) = item.content, !item.isNull else {
                    report("expected a string; found \(item.summary)", at: item, path: itemPath)
                    continue
                }
                if text.contains("\0") {
                    report("an argument cannot hold a NUL character", at: item, path: itemPath)
                } else if index == 0, !isValidProgram(text) {
                    report(
                        "expected a program: an absolute path such as /usr/bin/app, or a name without '/' "
                            + "looked up in PATH; found '\(text)'",
                        at: item, path: itemPath)
                }
                argv.append(text)
            }
            return errors.count == errorCount ? argv : nil
        case .sequence:
            report("expected \(expected); found an empty list", at: node, path: path)
        default:
            report("expected \(expected); found \(node.summary)", at: node, path: path)
        }
        return nil
    }

    /// `environment`: a mapping of variable names to values, kept in file order as "NAME=value".
    private mutating func environment(_ entry: Entry) -> [String]? {
        guard entry.value.isMapping else {
            report(
                "expected a mapping of variable names to values, such as {APP_MODE: demo}; found \(entry.value.summary)",
                at: entry.value, path: entry.path)
            return nil
        }
        let errorCount = errors.count
        var environment: [String] = []
        for field in entries(of: entry.value, path: entry.path) {
            if !isValidEnvironmentName(Substring(field.key)) {
                report(
                    "invalid variable name '\(field.key)': use letters, digits and '_', not starting with a digit",
                    at: field.keyNode, path: field.path)
            }
            guard case .scalar(let text, _) = field.value.content, !field.value.isNull else {
                report(
                    "expected a string such as demo (write \"\" for an empty value); found \(field.value.summary)",
                    at: field.value, path: field.path)
                continue
            }
            if text.contains("\0") {
                report("a value cannot hold a NUL character", at: field.value, path: field.path)
            }
            environment.append("\(field.key)=\(text)")
        }
        return errors.count == errorCount ? environment : nil
    }

    /// `hooks`: `start` (required), `stop` and `check`, each a list of program and arguments or a
    /// string for /bin/sh -c.
    private mutating func hooks(_ entry: Entry) -> HookCommands? {
        guard entry.value.isMapping else {
            report(
                "expected a mapping of start (required), stop and check commands, such as "
                    + "{start: \(Self.hookExample)}; found \(entry.value.summary)",
                at: entry.value, path: entry.path)
            return nil
        }
        let errorCount = errors.count
        let expected = "a list of program and arguments, such as \(Self.hookExample), or a string for /bin/sh -c"
        var start: [String]?, stop: [String]?, check: [String]?
        var sawStart = false
        for field in entries(of: entry.value, path: entry.path, validKeys: Self.hookKeys) {
            let argv = commandLine(field.value, path: field.path, expected: expected)
            switch field.key {
            case "start":
                sawStart = true
                start = argv
            case "stop": stop = argv
            case "check": check = argv
            default: preconditionFailure("'\(field.key)' is in hookKeys but has no decoder")
            }
        }
        if !sawStart {
            report("missing required key 'start', such as start: \(Self.hookExample)", at: entry.keyNode, path: entry.path)
        }
        guard errors.count == errorCount, let start else { return nil }
        return HookCommands(start: start, stop: stop, check: check)
    }

    /// `ready`: `tcp`, `notify`, or `exec:` and an absolute path, then arguments separated by spaces.
    private mutating func readiness(_ entry: Entry) -> Readiness? {
        value(
            entry, expected: "tcp, notify, or exec: and an absolute path with arguments, "
                + "such as exec:/usr/local/bin/is-ready app"
        ) { text in
            switch text {
            case "tcp": return .tcp
            case "notify": return .notify
            default:
                guard text.hasPrefix("exec:") else { return nil }
                let argv = text.dropFirst("exec:".count).split(separator: " ").map(String.init)
                guard let program = argv.first, isAbsolutePath(program) else { return nil }
                return .exec(argv)
            }
        }
    }
}
