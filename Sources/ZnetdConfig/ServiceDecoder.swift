/// The schema of `services:` and `defaults:`.
extension SchemaDecoder {
    /// Keys a service may set, which `defaults:` may set for every service.
    static let settingKeys = [
        "connect_timeout", "idle_timeout", "max_connections", "keepalive", "log_connections",
        "backlog", "free_bind", "reuse_port", "allow", "deny",
    ] + balancingKeys
    /// Keys only a service itself may set.
    static let addressKeys = ["listen", "routes", "target", "targets", "tiers"]
    static let serviceKeys = addressKeys + settingKeys + onDemandKeys
    /// Keys `defaults:` may set: the settings, and the on-demand keys that do not define a launcher.
    static let defaultsKeys = settingKeys + onDemandKeys.filter { !launcherKeys.contains($0) }
    static let keepaliveKeys = ["idle", "interval", "count"]

    /// Service names become systemd unit names and `FileDescriptorName=` values.
    static let maximumServiceNameLength = 64

    /// `services:`: a mapping of service name to service.
    mutating func services(_ node: YAMLNode, path: String) -> [ServiceDefinition] {
        entries(of: node, path: path).map { entry in
            if let problem = serviceNameProblem(entry.key) {
                report(problem, at: entry.keyNode, path: entry.path)
            }
            return service(entry)
        }
    }

    /// `defaults:`: settings for every service that does not write them itself.
    mutating func defaults(_ node: YAMLNode, path: String) -> ServiceSettings {
        var settings = ServiceSettings()
        let valid = entries(of: node, path: path, validKeys: Self.defaultsKeys) { key in
            if Self.addressKeys.contains(key) {
                return "'\(key)' cannot be set in defaults; every service needs its own"
            }
            if Self.launcherKeys.contains(key) {
                return "'\(key)' cannot be set in defaults; it defines one service's launcher"
            }
            return nil
        }
        for entry in valid {
            if Self.onDemandKeys.contains(entry.key) {
                onDemandSetting(entry, into: &settings.onDemand)
            } else if Self.balancingKeys.contains(entry.key) {
                balancingSetting(entry, into: &settings.balancing)
            } else {
                setting(entry, into: &settings)
            }
        }
        return settings
    }

    private mutating func service(_ entry: Entry) -> ServiceDefinition {
        var service = ServiceDefinition(name: entry.key, location: entry.keyNode.location)
        if Self.serviceKeys.contains(entry.key), !entry.value.isMapping {
            report(
                "expected a mapping; found \(entry.value.summary) (indent '\(entry.key)' under its service's name)",
                at: entry.value, path: entry.path)
            return service
        }
        var sawListen = false, sawTarget = false, sawRoutes = false
        var backendKey: Entry?
        for field in entries(of: entry.value, path: entry.path, validKeys: Self.serviceKeys) {
            if ["target", "targets", "tiers"].contains(field.key) {
                if let first = backendKey {
                    report("'\(field.key)' cannot be used with '\(first.key)' (line \(first.keyNode.location.line)); "
                           + "write the backends once, as target, targets or tiers", at: field.keyNode, path: field.path)
                    continue
                }
                backendKey = field
                sawTarget = true
            }
            switch field.key {
            case "listen":
                sawListen = true
                service.listen = listen(field)
            case "routes":
                sawRoutes = true
                service.routes = routes(field)
            case "target":
                service.target = targetAddress(field.value, path: field.path, allowProgram: true)
            case "targets":
                service.targets = targetList(field)
            case "tiers":
                service.targets = tierList(field)
            case _ where Self.balancingKeys.contains(field.key):
                balancingSetting(field, into: &service.settings.balancing)
            case _ where Self.onDemandKeys.contains(field.key):
                onDemandSetting(field, into: &service.settings.onDemand)
            default:
                setting(field, into: &service.settings)
            }
        }
        finishCommand(&service.settings.onDemand)
        if case .program? = service.target,
           let launcher = service.settings.onDemand.written.values.first(where: { Self.launcherKeys.contains($0.key) }) {
            report("'\(launcher.key)' cannot be used with an exec: target; an on-demand backend needs an address to probe",
                   at: launcher.keyNode, path: launcher.path)
        }
        // A value that is not a mapping has been reported; missing keys would only add noise.
        guard entry.value.isMapping || entry.value.isNull else { return service }
        if !sawListen && !sawRoutes {
            report("missing required key 'listen' (or 'routes'), such as listen: \"127.0.0.1:8080\"", at: entry.keyNode, path: entry.path)
        }
        if !sawTarget {
            report("missing required key 'target', such as target: \"127.0.0.1:9090\"", at: entry.keyNode, path: entry.path)
        }
        return service
    }

    mutating func setting(_ entry: Entry, into settings: inout ServiceSettings) {
        switch entry.key {
        case "connect_timeout":
            settings.connectTimeout = value(entry, expected: "a duration greater than zero, such as 500ms, 2s or 1m") {
                parseDuration($0).flatMap { $0 > .zero ? $0 : nil }
            }
        case "idle_timeout":
            settings.idleTimeout = value(entry, expected: "a duration such as 30s or 10m, or infinity") {
                text -> Duration?? in
                if text == "infinity" { return .some(nil) }
                return parseDuration(text).map { $0 == .zero ? nil : $0 }
            }
        case "max_connections":
            settings.maxConnections = integer(entry, in: 1...1_000_000)
        case "keepalive":
            settings.keepalive = keepalive(entry)
        case "log_connections":
            settings.logConnections = bool(entry)
        case "backlog":
            settings.backlog = integer(entry, in: 1...65535)
        case "free_bind":
            settings.freeBind = bool(entry)
        case "reuse_port":
            settings.reusePort = bool(entry)
        case "allow":
            settings.allow = addressPatterns(entry)
        case "deny":
            settings.deny = addressPatterns(entry)
        default:
            preconditionFailure("'\(entry.key)' is in settingKeys but has no decoder")
        }
    }

    /// One address, or a non-empty sequence of addresses.
    mutating func listen(_ entry: Entry) -> [ServiceDefinition.Listen] {
        let expected = "an address such as 127.0.0.1:8080, or a list of addresses"
        switch entry.value.content {
        case .scalar where !entry.value.isNull:
            return listenAddress(entry.value, path: entry.path).map { [$0] } ?? []
        case .sequence(let items) where !items.isEmpty:
            return items.enumerated().compactMap { index, item in
                listenAddress(item, path: entry.path.keyPath(index: index))
            }
        case .sequence:
            report("expected \(expected); found an empty list", at: entry.value, path: entry.path)
        default:
            report("expected \(expected); found \(entry.value.summary)", at: entry.value, path: entry.path)
        }
        return []
    }

    private mutating func listenAddress(_ node: YAMLNode, path: String) -> ServiceDefinition.Listen? {
        guard case .scalar(let text, _) = node.content, !node.isNull else {
            report("expected an address such as 127.0.0.1:8080; found \(node.summary)", at: node, path: path)
            return nil
        }
        do {
            return ServiceDefinition.Listen(address: try parseListenAddress(text), location: node.location, keyPath: path)
        } catch {
            report(error.message, at: node, path: path)
            return nil
        }
    }

    /// `allow:`/`deny:`: one pattern or a list of them (an empty list is none).
    private mutating func addressPatterns(_ entry: Entry) -> [AddressPattern]? {
        let expected = "an IP address, ADDRESS/PREFIXLENGTH, any, localhost, link-local or multicast"
        let items: [(YAMLNode, String)]
        switch entry.value.content {
        case .scalar where !entry.value.isNull:
            items = [(entry.value, entry.path)]
        case .sequence(let nodes):
            items = nodes.enumerated().map { ($1, entry.path.keyPath(index: $0)) }
        default:
            report("expected \(expected), or a list of them; found \(entry.value.summary)", at: entry.value, path: entry.path)
            return nil
        }
        var patterns: [AddressPattern] = []
        var valid = true
        for (node, path) in items {
            if case .scalar(let text, _) = node.content, !node.isNull, let pattern = AddressPattern(text) {
                patterns.append(pattern)
            } else {
                report("expected \(expected); found \(node.summary)", at: node, path: path)
                valid = false
            }
        }
        return valid ? patterns : nil
    }

    /// `true` (the standard values), `false` (off) or a mapping of idle, interval and count.
    /// The outer optional is `nil` when the value was invalid.
    private mutating func keepalive(_ entry: Entry) -> Keepalive?? {
        if entry.value.isMapping {
            return keepaliveParameters(entry)
        }
        let expected = "true, false or a mapping such as {idle: 60s, interval: 10s, count: 6}"
        if let quoted = quotedBoolean(entry.value) {
            report("expected \(expected); found \(quoted)", at: entry.value, path: entry.path)
            return nil
        }
        return value(entry, expected: expected) { text in
            parseBoolean(text).map { $0 ? Keepalive.standard : nil }
        }
    }

    /// `{idle, interval, count}`, each defaulting to ``Keepalive/standard``.
    private mutating func keepaliveParameters(_ entry: Entry) -> Keepalive?? {
        let errorCount = errors.count
        var keepalive = Keepalive.standard
        for field in entries(of: entry.value, path: entry.path, validKeys: Self.keepaliveKeys) {
            switch field.key {
            case "idle": keepalive.idle = keepaliveSeconds(field) ?? keepalive.idle
            case "interval": keepalive.interval = keepaliveSeconds(field) ?? keepalive.interval
            case "count": keepalive.count = integer(field, in: 1...127) ?? keepalive.count
            default: preconditionFailure("'\(field.key)' is in keepaliveKeys but has no decoder")
            }
        }
        return errors.count == errorCount ? .some(keepalive) : nil
    }

    /// TCP_KEEPIDLE and TCP_KEEPINTVL take whole seconds, at most 32767.
    private mutating func keepaliveSeconds(_ entry: Entry) -> Duration? {
        value(entry, expected: "whole seconds from 1s to 32767s, such as 60s") { text in
            parseDuration(text).flatMap { duration in
                let (seconds, fraction) = duration.components
                return fraction == 0 && (1...32767).contains(seconds) ? duration : nil
            }
        }
    }
}

/// Why `name` cannot name a service (or a listener), or `nil` when it can.
func serviceNameProblem(_ name: String) -> String? {
    let isNameCharacter: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber) }
    guard let first = name.first, isNameCharacter(first),
        name.allSatisfy({ isNameCharacter($0) || "_.-".contains($0) })
    else {
        return "invalid service name '\(name)': use letters, digits, '_', '.' and '-', starting with a letter or digit"
    }
    if name.count > SchemaDecoder.maximumServiceNameLength {
        return "service name '\(name)' is \(name.count) characters long; the limit is \(SchemaDecoder.maximumServiceNameLength)"
    }
    return nil
}
