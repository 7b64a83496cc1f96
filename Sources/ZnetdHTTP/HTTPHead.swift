/// The head of an HTTP/1.x message (request line or status line, and the header fields), read
/// from the bytes of a connection as they arrive.
///
/// Only what a router and a message-framing proxy need is interpreted: the method, target and
/// version, the status code, `Host`, `Content-Length`, `Transfer-Encoding`, `Connection` and
/// `Upgrade`. Everything else is kept byte for byte, so the head is forwarded as it came (plus
/// the fields znetd adds).
public struct HTTPHead: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case request(method: String, target: String)
        case response(status: Int)
    }

    public var kind: Kind
    /// `HTTP/1.1` is (1, 1).
    public var version: (major: Int, minor: Int)
    /// Field names as written, values with surrounding white space removed, in order.
    public var fields: [(name: String, value: String)]

    public static func == (a: HTTPHead, b: HTTPHead) -> Bool {
        a.kind == b.kind && a.version == b.version && a.fields.elementsEqual(b.fields) { $0 == $1 }
    }

    /// The first value of a field, by case-insensitive name.
    public func field(_ name: String) -> String? {
        fields.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }

    /// Every value of a field, comma-separated lists split, lowercased (for tokens such as
    /// `Connection` and `Transfer-Encoding`).
    public func tokens(_ name: String) -> [String] {
        fields.filter { $0.name.equalsIgnoringASCIICase(name) }
            .flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingBlanks().lowercased() }
            .filter { !$0.isEmpty }
    }

    /// Whether the connection stays open after this message (RFC 9112 section 9.3).
    public var keepsAlive: Bool {
        let connection = tokens("connection")
        if connection.contains("close") { return false }
        if version.major == 1 && version.minor == 0 { return connection.contains("keep-alive") }
        return true
    }

    /// The request's host without the port, lowercased; `nil` for a response or no Host.
    public var host: String? {
        guard case .request(_, let target) = kind else { return nil }
        // An absolute-form target names the host itself (RFC 9112 section 3.2.2).
        var authority = field("host")
        if !target.isOriginForm, let schemeEnd = target.firstRange(of: "://") {
            let rest = target[schemeEnd.upperBound...]
            authority = String(rest.prefix { $0 != "/" && $0 != "?" })
        }
        guard let authority, !authority.isEmpty else { return nil }
        return Self.hostWithoutPort(authority)
    }

    /// The request target's path (without query), `/` for `*` and authority forms.
    public var path: String {
        guard case .request(_, var target) = kind else { return "/" }
        if !target.isOriginForm, let schemeEnd = target.firstRange(of: "://") {
            let rest = target[schemeEnd.upperBound...]
            target = String(rest.drop { $0 != "/" && $0 != "?" })
        }
        let path = target.prefix { $0 != "?" && $0 != "#" }
        return path.hasPrefix("/") ? String(path) : "/"
    }

    static func hostWithoutPort(_ authority: String) -> String {
        var host = Substring(authority)
        if host.hasPrefix("[") {  // [v6]:port
            if let close = host.firstIndex(of: "]") { host = host[...close] }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        var text = host.lowercased()
        if text.hasSuffix(".") { text.removeLast() }  // "example.com." is "example.com"
        return text
    }
}

/// Why a head could not be read: the client gets 400 (431 for a head too large), the
/// backend's response a 502.
public enum HTTPHeadError: Error, Sendable, Equatable {
    case tooLarge(limit: Int)
    case malformed(String)
}

extension Substring {
    /// Without leading and trailing spaces and tabs (on UTF-8 code units: blanks are ASCII).
    func trimmingBlanks() -> Substring {
        var bytes = utf8[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return Substring(bytes)
    }
}

extension String {
    /// A request target such as `/path?query` (RFC 9112 section 3.2.1), the common case: no
    /// scheme to look for.
    var isOriginForm: Bool { utf8.first == UInt8(ascii: "/") }

    func trimmingBlanks() -> Substring { Substring(self).trimmingBlanks() }

    /// Whether this equals `lowercase` (an all-lowercase ASCII name) ignoring ASCII case, as
    /// field names compare; without making a lowercased copy.
    func equalsIgnoringASCIICase(_ lowercase: String) -> Bool {
        var other = lowercase.utf8.makeIterator()
        for byte in utf8 {
            guard let expected = other.next() else { return false }
            let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if folded != expected { return false }
        }
        return other.next() == nil
    }
}
