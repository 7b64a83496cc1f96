extension ServiceConfig {
    /// `targets:` (one flow mapping per backend, every key but an unset `max_connections`) and
    /// every balancing key, for a service that is not a plain `target:`.
    var balancingYAMLLines: [String] {
        let targetLines = targets.map { target in
            var fields = ["address: \(doubleQuoted(target.address.description))", "weight: \(target.weight)"]
            if let maximum = target.maxConnections { fields.append("max_connections: \(maximum)") }
            fields += ["disabled: \(target.disabled)", "tier: \(target.tier)"]
            return "  - {\(fields.joined(separator: ", "))}"
        }
        let health = balancing.health
        let healthFields = [
            "check: \(doubleQuoted(health.probe.map(probeText) ?? "none"))",
            "interval: \(formatDuration(health.interval))",
            "timeout: \(formatDuration(health.timeout))",
            "rise: \(health.rise)",
            "fall: \(health.fall)",
        ]
        return ["targets:"] + targetLines + [
            "balance: \(balancing.policy.rawValue)",
            "health: {\(healthFields.joined(separator: ", "))}",
            "retries: \(balancing.retries.map(String.init) ?? "all")",
            "failback_after: \(formatDuration(balancing.failbackAfter))",
            "failback_force: \(balancing.failbackForce)",
            "resolve_interval: \(formatDuration(balancing.resolveInterval))",
            "proxy_protocol: \(balancing.proxyProtocol?.rawValue ?? "none")",
        ]
    }
}

/// A probe as `health:` takes it.
func probeText(_ probe: HealthCheck.Probe) -> String {
    switch probe {
    case .tcp: "tcp"
    case .exec(let argv): "exec:" + argv.joined(separator: " ")
    case .http(let path, let expect): "http GET \(path) expect \(expect)"
    }
}
