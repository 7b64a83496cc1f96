/// The services behind a shared HTTP listener and how a request picks one: by host, then by
/// path.
///
/// Hosts: an exact name first; else the longest matching domain suffix (`*.example.com`
/// matches `a.example.com` and `a.b.example.com`, not `example.com`); else `*`, any host. The
/// port of the Host field is ignored, names are compared case-insensitively and a trailing dot
/// is dropped. Within the hosts that match, in that order, the longest path prefix that matches
/// at a segment boundary wins (`/api` matches `/api`, `/api/v1` and `/api?x`, not `/apix`); a
/// host whose paths all miss gives way to the next matching host.
///
/// Paths are compared after removing dot segments (`/public/../admin` is `/admin`), so a
/// request cannot reach a service its path does not name; the request itself is forwarded as
/// it came.
public struct HTTPRouteTable: Sendable {
    public struct Route: Sendable, Hashable {
        public var host: HostPattern
        public var pathPrefix: String
        public var service: String

        public init(host: HostPattern, pathPrefix: String = "/", service: String) {
            self.host = host
            self.pathPrefix = pathPrefix
            self.service = service
        }
    }

    public enum HostPattern: Sendable, Hashable, CustomStringConvertible {
        case exact(String)
        /// The suffix with its leading dot: `*.example.com` is `.example.com`.
        case suffix(String)
        case any

        /// `example.com`, `*.example.com` or `*`; `nil` for anything else.
        public init?(_ text: String) {
            let lowered = text.lowercased()
            if lowered == "*" {
                self = .any
            } else if lowered.hasPrefix("*.") {
                let name = String(lowered.dropFirst(1))
                guard isHostName(String(name.dropFirst())) else { return nil }
                self = .suffix(name)
            } else {
                guard isHostName(lowered) else { return nil }
                self = .exact(lowered)
            }
        }

        public var description: String {
            switch self {
            case .exact(let name): return name
            case .suffix(let suffix): return "*" + suffix
            case .any: return "*"
            }
        }
    }

    private var exact: [String: [Route]] = [:]
    /// Longest suffix first.
    private var suffixes: [(suffix: String, routes: [Route])] = []
    private var anyHost: [Route] = []

    public init(_ routes: [Route]) {
        var suffixGroups: [String: [Route]] = [:]
        for route in routes {
            switch route.host {
            case .exact(let name): exact[name, default: []].append(route)
            case .suffix(let suffix): suffixGroups[suffix, default: []].append(route)
            case .any: anyHost.append(route)
            }
        }
        suffixes = suffixGroups.map { ($0.key, $0.value) }
            .sorted { $0.suffix.utf8.count > $1.suffix.utf8.count || ($0.suffix.utf8.count == $1.suffix.utf8.count && $0.suffix < $1.suffix) }
    }

    /// The service for a request to `host` (already without port, lowercased; `nil` when the
    /// request had none) and `path`, or `nil`: 404.
    public func service(host: String?, path: String) -> String? {
        let path = removingDotSegments(path)
        if let host {
            if let routes = exact[host], let service = longestPrefix(routes, path) { return service }
            for group in suffixes where host.hasSuffix(group.suffix) && host.utf8.count > group.suffix.utf8.count {
                if let service = longestPrefix(group.routes, path) { return service }
            }
        }
        return longestPrefix(anyHost, path)
    }

    private func longestPrefix(_ routes: [Route], _ path: String) -> String? {
        var best: Route?
        for route in routes where pathMatches(route.pathPrefix, path) {
            if best == nil || route.pathPrefix.utf8.count > best!.pathPrefix.utf8.count { best = route }
        }
        return best?.service
    }
}

/// `prefix` matches `path` at a segment boundary.
func pathMatches(_ prefix: String, _ path: String) -> Bool {
    if prefix == "/" || prefix.isEmpty { return true }
    guard path.hasPrefix(prefix) else { return false }
    if prefix.hasSuffix("/") { return true }
    let rest = path.utf8.dropFirst(prefix.utf8.count)
    return rest.isEmpty || rest.first == UInt8(ascii: "/")
}

/// RFC 3986 section 5.2.4, with `%2e` read as `.` (so an encoded dot segment counts too).
func removingDotSegments(_ path: String) -> String {
    var output: [Substring] = []
    let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
    for (index, raw) in segments.enumerated() {
        let segment = raw.lowercased().replacingAll("%2e", with: ".")
        let isLast = index == segments.count - 1
        switch segment {
        case ".":
            if isLast { output.append("") }
        case "..":
            if !output.isEmpty { output.removeLast() }
            if isLast { output.append("") }
        default:
            output.append(raw)
        }
    }
    return "/" + output.joined(separator: "/")
}

/// A DNS name: labels of letters, digits and hyphens (underscores tolerated), dot-separated.
func isHostName(_ text: String) -> Bool {
    guard !text.isEmpty, text.utf8.count <= 253 else { return false }
    return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
        !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
            && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
