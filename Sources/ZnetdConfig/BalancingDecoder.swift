/// The schema of a service's backends (`targets:`, `tiers:`) and of its balancing keys.
extension SchemaDecoder {
    static let balancingKeys = [
        "balance", "health", "retries", "failback_after", "failback_force", "resolve_interval", "proxy_protocol",
    ]
    static let backendKeys = ["address", "weight", "max_connections", "disabled", "tier"]
    static let healthKeys = ["check", "interval", "timeout", "rise", "fall"]
    static let healthExpected =
        "tcp, none, exec: and an absolute path with arguments, or http GET /PATH expect 2xx, "
        + "such as http GET /healthz expect 2xx"

    mutating func balancingSetting(_ entry: Entry, into settings: inout BalancingSettings) {
        switch entry.key {
        case "balance":
            settings.policy = value(
                entry, expected: "round-robin, least-connections, random-two-choices or source-hash",
                parse: BalancePolicy.init(rawValue:))
        case "health":
            settings.health = health(entry)
        case "retries":
            settings.retries = value(entry, expected: "all or an integer from 0 to 1000") { text -> Int?? in
                if text == "all" { return .some(nil) }
                guard let retries = Int(text), Balancing.retriesRange.contains(retries) else { return nil }
                return .some(retries)
            }
        case "failback_after":
            settings.failbackAfter = value(entry, expected: "a duration such as 0s, 30s or 5m", parse: parseDuration)
        case "failback_force":
            settings.failbackForce = bool(entry)
        case "resolve_interval":
            settings.resolveInterval = value(entry, expected: "a duration of at least 1s, such as 30s or 5m") {
                parseDuration($0).flatMap { $0 >= .seconds(1) ? $0 : nil }
            }
        case "proxy_protocol":
            settings.proxyProtocol = value(entry, expected: "v1, v2 or none") { text -> ProxyProtocolVersion?? in
                text == "none" ? .some(nil) : ProxyProtocolVersion(rawValue: text).map { .some($0) }
            }
        default:
            preconditionFailure("'\(entry.key)' is in balancingKeys but has no decoder")
        }
    }

    // MARK: Backends

    /// `targets:`: a non-empty list of addresses or `{address, weight, max_connections, disabled,
    /// tier}` mappings.
    mutating func targetList(_ entry: Entry) -> [BackendTarget]? {
        guard let items = nonEmptyList(entry, expected: "a list of targets such as [\"10.0.0.1:80\", \"10.0.0.2:80\"]")
        else { return nil }
        let errorCount = errors.count
        var targets: [BackendTarget] = []
        var written: [(node: YAMLNode, path: String)] = []
        for (index, item) in items.enumerated() {
            let path = entry.path.keyPath(index: index)
            if let target = backend(item, path: path, tier: nil) {
                targets.append(target)
                written.append((item, path))
            }
        }
        reportDuplicates(targets, written: written)
        return errors.count == errorCount ? targets : nil
    }

    /// `tiers:`: a non-empty list of non-empty target lists; the first is tier 0.
    mutating func tierList(_ entry: Entry) -> [BackendTarget]? {
        let expected = "a list of tiers, each a list of targets, such as [[\"10.0.0.1:80\"], [\"10.1.0.1:80\"]]"
        guard let tiers = nonEmptyList(entry, expected: expected) else { return nil }
        guard tiers.count <= BackendTarget.tierRange.upperBound + 1 else {
            report("expected at most \(BackendTarget.tierRange.upperBound + 1) tiers; found \(tiers.count)",
                   at: entry.value, path: entry.path)
            return nil
        }
        let errorCount = errors.count
        var targets: [BackendTarget] = []
        var written: [(node: YAMLNode, path: String)] = []
        for (tier, node) in tiers.enumerated() {
            let path = entry.path.keyPath(index: tier)
            guard case .sequence(let items) = node.content, !items.isEmpty else {
                report("expected tier \(tier) as a non-empty list of targets; found "
                       + (node.content.isSequence ? "an empty list" : node.summary), at: node, path: path)
                continue
            }
            for (index, item) in items.enumerated() {
                let itemPath = path.keyPath(index: index)
                if let target = backend(item, path: itemPath, tier: tier) {
                    targets.append(target)
                    written.append((item, itemPath))
                }
            }
        }
        reportDuplicates(targets, written: written)
        return errors.count == errorCount ? targets : nil
    }

    private mutating func nonEmptyList(_ entry: Entry, expected: String) -> [YAMLNode]? {
        switch entry.value.content {
        case .sequence(let items) where !items.isEmpty:
            return items
        case .sequence:
            report("expected \(expected); found an empty list", at: entry.value, path: entry.path)
        default:
            report("expected \(expected); found \(entry.value.summary)", at: entry.value, path: entry.path)
        }
        return nil
    }

    /// One target: an address, or a mapping with `address` and the backend's settings. `tier` is
    /// set for entries of `tiers:`, where the position gives the tier.
    private mutating func backend(_ node: YAMLNode, path: String, tier: Int?) -> BackendTarget? {
        if case .scalar = node.content, !node.isNull {
            return targetAddress(node, path: path).map { BackendTarget(address: $0, tier: tier ?? 0) }
        }
        guard node.isMapping else {
            report("expected an address such as 127.0.0.1:9090 or a mapping such as "
                   + "{address: \"127.0.0.1:9090\", weight: 2}; found \(node.summary)", at: node, path: path)
            return nil
        }
        let errorCount = errors.count
        var address: TargetAddress?
        var backend = BackendTarget(address: .unix(path: "/"), tier: tier ?? 0)
        let validKeys = tier == nil ? Self.backendKeys : Self.backendKeys.filter { $0 != "tier" }
        let fields = entries(of: node, path: path, validKeys: validKeys) { key in
            key == "tier" && tier != nil ? "'tier' cannot be set under tiers; the tier is the list's position" : nil
        }
        for field in fields {
            switch field.key {
            case "address": address = targetAddress(field.value, path: field.path)
            case "weight": backend.weight = integer(field, in: BackendTarget.weightRange) ?? backend.weight
            case "max_connections": backend.maxConnections = integer(field, in: 1...1_000_000)
            case "disabled": backend.disabled = bool(field) ?? false
            case "tier": backend.tier = integer(field, in: BackendTarget.tierRange) ?? 0
            default: preconditionFailure("'\(field.key)' is in backendKeys but has no decoder")
            }
        }
        if !fields.contains(where: { $0.key == "address" }) {
            report("missing required key 'address', such as address: \"127.0.0.1:9090\"", at: node, path: path)
        }
        guard errors.count == errorCount, let address else { return nil }
        backend.address = address
        return backend
    }

    /// A target address in a list, or in `target:` itself (which may also be `exec:`).
    mutating func targetAddress(_ node: YAMLNode, path: String, allowProgram: Bool = false) -> TargetAddress? {
        guard case .scalar(let text, _) = node.content, !node.isNull else {
            report("expected one address such as 127.0.0.1:9090; found \(node.summary)", at: node, path: path)
            return nil
        }
        if !allowProgram && text.hasPrefix("exec:") {
            report("an exec: destination goes in target:, alone; it cannot be one of several targets",
                   at: node, path: path)
            return nil
        }
        do {
            return try parseTargetOrProgram(text)
        } catch {
            report(error.message, at: node, path: path)
            return nil
        }
    }

    /// Each address may be a backend of a service once.
    private mutating func reportDuplicates(_ targets: [BackendTarget], written: [(node: YAMLNode, path: String)]) {
        for (index, target) in targets.enumerated() {
            if let first = targets[..<index].firstIndex(where: { $0.address == target.address }) {
                report("target '\(target.address)' is listed twice, first at line \(written[first].node.location.line)",
                       at: written[index].node, path: written[index].path)
            }
        }
    }

    // MARK: Health checks

    /// A probe (`tcp`, `none`, `exec:...`, `http GET /path expect 2xx`) with the default timings,
    /// or a mapping `{check, interval, timeout, rise, fall}`.
    private mutating func health(_ entry: Entry) -> HealthCheck? {
        guard entry.value.isMapping else {
            return value(entry, expected: Self.healthExpected, parse: parseProbe).map { HealthCheck(probe: $0) }
        }
        let errorCount = errors.count
        var health = HealthCheck.passiveOnly
        for field in entries(of: entry.value, path: entry.path, validKeys: Self.healthKeys) {
            switch field.key {
            case "check":
                health.probe = value(field, expected: Self.healthExpected, parse: parseProbe) ?? nil
            case "interval":
                health.interval = positiveDuration(field) ?? health.interval
            case "timeout":
                health.timeout = positiveDuration(field) ?? health.timeout
            case "rise":
                health.rise = integer(field, in: 1...100) ?? health.rise
            case "fall":
                health.fall = integer(field, in: 1...100) ?? health.fall
            default:
                preconditionFailure("'\(field.key)' is in healthKeys but has no decoder")
            }
        }
        return errors.count == errorCount ? health : nil
    }

    private mutating func positiveDuration(_ entry: Entry) -> Duration? {
        value(entry, expected: "a duration greater than zero, such as 500ms, 2s or 1m") {
            parseDuration($0).flatMap { $0 > .zero ? $0 : nil }
        }
    }
}

/// A health probe as written; `.some(nil)` for `none`, `nil` when `text` is none of the forms.
func parseProbe(_ text: String) -> HealthCheck.Probe?? {
    if text == "none" { return .some(nil) }
    if text == "tcp" { return .some(.tcp) }
    if text.hasPrefix("exec:") {
        let argv = text.dropFirst("exec:".count).split(separator: " ").map(String.init)
        guard let program = argv.first, isAbsolutePath(program) else { return nil }
        return .some(.exec(argv))
    }
    let words = text.split(separator: " ").map(String.init)
    guard words.first == "http", words.count == 3 || words.count == 5, words[1] == "GET",
          words[2].hasPrefix("/"), words[2].allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\0" })
    else { return nil }
    let expect = words.count == 5 ? words[4] : "2xx"
    guard words.count == 3 || words[3] == "expect", isStatusPattern(expect) else { return nil }
    return .some(.http(path: words[2], expect: expect))
}

/// Three characters, the first a digit 1..5, the others digits or `x`.
private func isStatusPattern(_ text: String) -> Bool {
    let characters = Array(text)
    guard characters.count == 3, let first = characters[0].wholeNumberValue, (1...5).contains(first) else {
        return false
    }
    return characters.dropFirst().allSatisfy { $0 == "x" || ($0.isASCII && $0.isNumber) }
}

extension YAMLNode.Content {
    var isSequence: Bool {
        if case .sequence = self { true } else { false }
    }
}
