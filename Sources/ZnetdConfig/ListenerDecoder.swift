/// A shared listener as written in one file.
struct ListenerDefinition {
    var name: String
    var location: SourceLocation
    var listen: [ServiceDefinition.Listen] = []
    var mode = ListenerMode.http
    /// Where `mode:` was written (for "tls needs http mode" and route checks).
    var modeLocation: SourceLocation?
    var tls: ListenerTLS?
    var tlsLocation: (location: SourceLocation, keyPath: String)?
    var forwarded = ForwardedStyle.xForwarded
    /// Only the socket keys (backlog, free_bind, reuse_port, allow, deny) are read from it.
    var settings = ServiceSettings()

    /// The listener with built-in socket defaults (`defaults:` is for services only).
    var resolved: ListenerConfig {
        let settings = settings.filling(from: .builtIn)
        return ListenerConfig(
            name: name,
            listen: listen.map(\.address),
            mode: mode,
            tls: tls,
            forwarded: forwarded,
            socketOptions: SocketOptions(
                backlog: settings.backlog!, freeBind: settings.freeBind!, reusePort: settings.reusePort!),
            clientAccess: ClientAccess(allow: settings.allow!, deny: settings.deny!),
            location: location)
    }
}

/// A route as written, with its place for messages.
struct RouteDefinition {
    var route: ServiceRoute
    var location: SourceLocation
    var keyPath: String
    /// Where `path:` was written (a path on a tcp listener is an error there).
    var pathLocation: SourceLocation?
}

/// The schema of `listeners:` and of a service's `routes:`.
extension SchemaDecoder {
    static let listenerSocketKeys = ["backlog", "free_bind", "reuse_port", "allow", "deny"]
    static let listenerKeys = ["listen", "mode", "tls", "forwarded"] + listenerSocketKeys
    static let tlsKeys = ["certificates"]
    static let certificateKeys = ["certificate", "key"]
    static let routeKeys = ["listener", "host", "path"]

    /// `listeners:`: a mapping of listener name to listener.
    mutating func listeners(_ node: YAMLNode, path: String) -> [ListenerDefinition] {
        entries(of: node, path: path).map { entry in
            if let problem = serviceNameProblem(entry.key) {
                report(problem.replacingFirst("service", with: "listener"), at: entry.keyNode, path: entry.path)
            }
            return listener(entry)
        }
    }

    private mutating func listener(_ entry: Entry) -> ListenerDefinition {
        var listener = ListenerDefinition(name: entry.key, location: entry.keyNode.location)
        var sawListen = false
        for field in entries(of: entry.value, path: entry.path, validKeys: Self.listenerKeys) {
            switch field.key {
            case "listen":
                sawListen = true
                listener.listen = listen(field)
            case "mode":
                listener.modeLocation = field.value.location
                listener.mode = value(field, expected: "http or tcp") { ListenerMode(rawValue: $0) } ?? .http
            case "tls":
                listener.tlsLocation = (field.keyNode.location, field.path)
                listener.tls = tls(field)
            case "forwarded":
                listener.forwarded = value(field, expected: "x-forwarded, forwarded or none") {
                    ForwardedStyle(rawValue: $0)
                } ?? .xForwarded
            default:
                setting(field, into: &listener.settings)
            }
        }
        // A value that is not a mapping has been reported; a missing key would only add noise.
        if !sawListen, entry.value.isMapping || entry.value.isNull {
            report("missing required key 'listen', such as listen: \":80\"", at: entry.keyNode, path: entry.path)
        }
        if let tls = listener.tlsLocation, listener.mode == .tcp {
            report("'tls' needs mode: http; a tcp listener routes TLS by server name without terminating it",
                   at: tls.location, path: tls.keyPath)
        }
        return listener
    }

    /// `tls: {certificates: [{certificate: PATH, key: PATH}, ...]}`.
    private mutating func tls(_ entry: Entry) -> ListenerTLS? {
        var certificates: [TLSCertificateFiles] = []
        var sawCertificates = false
        for field in entries(of: entry.value, path: entry.path, validKeys: Self.tlsKeys) {
            sawCertificates = true
            guard case .sequence(let items) = field.value.content, !items.isEmpty else {
                report("expected a list of {certificate: PATH, key: PATH}; found \(field.value.summary)",
                       at: field.value, path: field.path)
                continue
            }
            for (index, item) in items.enumerated() {
                if let files = certificateFiles(item, path: field.path.keyPath(index: index)) {
                    certificates.append(files)
                }
            }
        }
        if !sawCertificates {
            report("missing required key 'certificates', such as certificates: [{certificate: /etc/znetd/tls/site.pem, key: credential:site.key}]",
                   at: entry.value, path: entry.path)
        }
        return certificates.isEmpty ? nil : ListenerTLS(certificates: certificates)
    }

    private mutating func certificateFiles(_ node: YAMLNode, path: String) -> TLSCertificateFiles? {
        var certificate: CredentialPath?, key: CredentialPath?
        for field in entries(of: node, path: path, validKeys: Self.certificateKeys) {
            let parsed = value(field, expected: "an absolute path or credential:NAME", parse: parseCredentialPath)
            if field.key == "certificate" { certificate = parsed } else { key = parsed }
        }
        guard node.isMapping else {
            if !node.isNull { return nil }
            report("expected a mapping such as {certificate: PATH, key: PATH}; found \(node.summary)", at: node, path: path)
            return nil
        }
        for (name, found) in [("certificate", certificate != nil), ("key", key != nil)] where !found {
            if !errors.contains(where: { $0.keyPath == path.keyPath(appending: name) }) {
                report("missing required key '\(name)'", at: node, path: path)
            }
        }
        guard let certificate, let key else { return nil }
        return TLSCertificateFiles(certificate: certificate, key: key)
    }

    /// `routes:`: a non-empty list of `{listener, host, path}`.
    mutating func routes(_ entry: Entry) -> [RouteDefinition] {
        guard case .sequence(let items) = entry.value.content, !items.isEmpty else {
            report("expected a list of routes such as [{listener: web, host: blog.example.com, path: /blog}]; "
                   + "found \(entry.value.summary)", at: entry.value, path: entry.path)
            return []
        }
        return items.enumerated().compactMap { index, item in
            route(item, path: entry.path.keyPath(index: index))
        }
    }

    private mutating func route(_ node: YAMLNode, path: String) -> RouteDefinition? {
        guard node.isMapping else {
            report("expected a mapping such as {listener: web, host: blog.example.com}; found \(node.summary)",
                   at: node, path: path)
            return nil
        }
        let errorCount = errors.count
        var listener: String?, host: String?, routePath: String?, pathLocation: SourceLocation?
        for field in entries(of: node, path: path, validKeys: Self.routeKeys) {
            switch field.key {
            case "listener":
                listener = value(field, expected: "the name of a listener under listeners:") { $0.isEmpty ? nil : $0 }
            case "host":
                host = value(field, expected: "a host name such as example.com, or *.example.com") { parseRouteHost($0) } ?? nil
            case "path":
                pathLocation = field.value.location
                routePath = value(field, expected: "a path starting with '/', such as /blog") { parseRoutePath($0) }
            default:
                preconditionFailure("'\(field.key)' is in routeKeys but has no decoder")
            }
        }
        if listener == nil, errors.count == errorCount {
            report("missing required key 'listener', such as listener: web", at: node, path: path)
        }
        guard let listener, errors.count == errorCount else { return nil }
        return RouteDefinition(route: ServiceRoute(listener: listener, host: host, path: routePath),
                               location: node.location, keyPath: path, pathLocation: pathLocation)
    }
}

/// `/etc/znetd/tls/site.pem` or `credential:NAME`.
func parseCredentialPath(_ text: String) -> CredentialPath? {
    if text.hasPrefix("credential:") {
        let name = String(text.dropFirst("credential:".count))
        // systemd credential names: no '/', not empty, not "." or "..".
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", name.utf8.count <= 255 else { return nil }
        return .credential(name)
    }
    guard text.hasPrefix("/"), !text.contains("\0") else { return nil }
    return .file(text)
}

/// A route's host: a DNS name or `*.` and a DNS name, lowercased, without a trailing dot;
/// `*` is any host, the same as no host.
func parseRouteHost(_ text: String) -> String?? {
    var name = text.lowercased()
    if name == "*" { return .some(nil) }
    if name.hasSuffix(".") { name.removeLast() }
    let bare = name.hasPrefix("*.") ? String(name.dropFirst(2)) : name
    guard !bare.isEmpty, bare.utf8.count <= 253 else { return nil }
    let labelsValid = bare.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
        !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
            && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
    return labelsValid ? .some(name) : nil
}

/// A route's path prefix: starts with `/`, printable ASCII without spaces, query or fragment.
func parseRoutePath(_ text: String) -> String? {
    guard text.hasPrefix("/"), !text.contains("?"), !text.contains("#"),
          text.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
    return text
}

extension String {
    /// The first occurrence of `target` replaced.
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        return self[..<range.lowerBound] + replacement + self[range.upperBound...]
    }
}
