extension Configuration {
    /// The whole effective configuration as YAML that ``ConfigLoader/parse(yaml:file:)`` reads
    /// back to an equal configuration: every key written out, defaults filled in, services
    /// sorted by name, durations and addresses in canonical form.
    ///
    /// For `znetd --print-config`: what the daemon will actually do, after all files are merged.
    public func normalizedYAML() -> String {
        var lines = [
            "threads: \(threads.map(String.init) ?? "auto")",
            "drain_timeout: \(formatDuration(drainTimeout))",
            "pipe_size: \(formatByteSize(pipeSize))",
            "unit_layout: \(unitLayout.rawValue)",
        ]
        if control != ControlSettings() {
            lines.append("control:")
            if let socket = control.socket { lines.append("  socket: \(doubleQuoted(socket))") }
            if let group = control.group { lines.append("  group: \(doubleQuoted(group))") }
            lines.append("  allow_uids: [\(control.allowUsers.map(doubleQuoted).joined(separator: ", "))]")
        }
        if let metricsListen { lines.append("metrics_listen: \(doubleQuoted(metricsListen.description))") }
        if !listeners.isEmpty {
            lines.append("listeners:")
            for listener in listeners.sorted(by: { $0.name < $1.name }) {
                lines += listener.normalizedYAMLLines.map { "  " + $0 }
            }
        }
        if services.isEmpty {
            lines.append("services: {}")
        } else {
            lines.append("services:")
            for service in services.sorted(by: { $0.name < $1.name }) {
                lines += service.normalizedYAMLLines.map { "  " + $0 }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension ServiceConfig {
    /// `name:` and the service's settings indented under it, its on-demand keys last.
    fileprivate var normalizedYAMLLines: [String] {
        let keepaliveText = keepalive.map {
            "{idle: \(seconds($0.idle)), interval: \(seconds($0.interval)), count: \($0.count)}"
        } ?? "false"
        let backends = hasSingleTarget ? ["target: \(doubleQuoted(target.description))"] : balancingYAMLLines
        let listenLines = listen.isEmpty ? [] : ["listen:"] + listen.map { "  - \(doubleQuoted($0.description))" }
        let routeLines = routes.isEmpty ? [] : ["routes:"] + routes.map { route in
            "  - {" + (["listener: \(route.listener)"]
                + (route.host.map { ["host: \(doubleQuoted($0))"] } ?? [])
                + (route.path.map { ["path: \(doubleQuoted($0))"] } ?? [])).joined(separator: ", ") + "}"
        }
        let settings = listenLines + routeLines + backends + [
            "connect_timeout: \(formatDuration(connectTimeout))",
            "idle_timeout: \(idleTimeout.map(formatDuration) ?? "infinity")",
            "max_connections: \(maxConnections)",
            "keepalive: \(keepaliveText)",
            "log_connections: \(logConnections)",
            "backlog: \(socketOptions.backlog)",
            "free_bind: \(socketOptions.freeBind)",
            "reuse_port: \(socketOptions.reusePort)",
            "allow: [\(clientAccess.allow.map { doubleQuoted($0.description) }.joined(separator: ", "))]",
            "deny: [\(clientAccess.deny.map { doubleQuoted($0.description) }.joined(separator: ", "))]",
        ] + (onDemand?.normalizedYAMLLines ?? [])
        // Service names are letters, digits, '_', '.' and '-': plain YAML scalars.
        return ["\(name):"] + settings.map { "  " + $0 }
    }
}

extension ListenerConfig {
    /// `name:` and the listener's settings indented under it.
    fileprivate var normalizedYAMLLines: [String] {
        var settings = ["listen:"] + listen.map { "  - \(doubleQuoted($0.description))" } + [
            "mode: \(mode.rawValue)",
            "forwarded: \(forwarded.rawValue)",
        ]
        if let tls {
            settings += ["tls:", "  certificates:"] + tls.certificates.flatMap { files in
                ["    - certificate: \(doubleQuoted(files.certificate.description))",
                 "      key: \(doubleQuoted(files.key.description))"]
            }
        }
        settings += [
            "backlog: \(socketOptions.backlog)",
            "free_bind: \(socketOptions.freeBind)",
            "reuse_port: \(socketOptions.reusePort)",
            "allow: [\(clientAccess.allow.map { doubleQuoted($0.description) }.joined(separator: ", "))]",
            "deny: [\(clientAccess.deny.map { doubleQuoted($0.description) }.joined(separator: ", "))]",
        ]
        return ["\(name):"] + settings.map { "  " + $0 }
    }
}

/// Keepalive times in seconds (`60s`, not `1m`), as the kernel takes them.
private func seconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return attoseconds == 0 ? "\(seconds)s" : formatDuration(duration)
}

/// `text` as a YAML double-quoted scalar (addresses: `[::1]:80` would otherwise start a flow
/// sequence, and unix paths may hold any character). Characters YAML does not allow as they are,
/// and line breaks, are written as escapes.
func doubleQuoted(_ text: String) -> String {
    var quoted = "\""
    for scalar in text.unicodeScalars {
        switch scalar.value {
        case 0x22: quoted += "\\\""
        case 0x5C: quoted += "\\\\"
        case 0x20...0x7E, 0xA0...0x2027, 0x202A...0xD7FF, 0xE000...0xFFFD, 0x10000...:
            quoted.unicodeScalars.append(scalar)
        case ...0xFF: quoted += "\\x" + hexDigits(scalar.value, count: 2)
        default: quoted += "\\u" + hexDigits(scalar.value, count: 4)
        }
    }
    return quoted + "\""
}

private func hexDigits(_ value: UInt32, count: Int) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: count - digits.count) + digits
}
