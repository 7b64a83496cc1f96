/// The request head as it goes to the backend: as the client sent it, with the fields that tell
/// the backend who the client is.
///
/// `X-Forwarded-For` gets the client's address appended (a list the client started is kept:
/// the backend decides how many hops to trust), `X-Forwarded-Proto` and `X-Forwarded-Host`
/// are set to what znetd saw (a client's own values would be lies), and `Forwarded`
/// (RFC 7239) gets an element appended. Hop-by-hop fields stay: the proxy keeps the client's
/// connection semantics per request.
public enum HTTPForwardedHeaders {
    public static func rewrite(
        _ head: HTTPHead, client: String, isTLS: Bool, host: String?, fields style: HTTPForwardedFields = .both
    ) -> [UInt8] {
        if style == .none { return serialize(head, fields: head.fields) }
        var fields: [(name: String, value: String)] = []
        var forwardedFor: String?
        var forwarded: String?
        fields.reserveCapacity(head.fields.count + 4)
        for field in head.fields {
            let name = field.name
            if name.equalsIgnoringASCIICase("x-forwarded-for") {
                forwardedFor = forwardedFor.map { "\($0), \(field.value)" } ?? field.value
            } else if name.equalsIgnoringASCIICase("forwarded") {
                forwarded = forwarded.map { "\($0), \(field.value)" } ?? field.value
            } else if !name.equalsIgnoringASCIICase("x-forwarded-proto") && !name.equalsIgnoringASCIICase("x-forwarded-host") {
                fields.append(field)
            }
        }
        let proto = isTLS ? "https" : "http"
        if style == .forwarded {
            // Only Forwarded is ours: a client's X-Forwarded-For passes as it came.
            if let forwardedFor { fields.append(("X-Forwarded-For", forwardedFor)) }
        } else {
            fields.append(("X-Forwarded-For", forwardedFor.map { "\($0), \(client)" } ?? client))
            fields.append(("X-Forwarded-Proto", proto))
            if let host { fields.append(("X-Forwarded-Host", host)) }
        }
        if style == .xForwarded {
            if let forwarded { fields.append(("Forwarded", forwarded)) }
        } else {
            // RFC 7239: an IPv6 address is quoted and bracketed.
            let node = client.containsColon ? "\"[\(client)]\"" : client
            var element = "for=\(node);proto=\(proto)"
            if let host { element += ";host=\"\(host)\"" }
            fields.append(("Forwarded", forwarded.map { "\($0), \(element)" } ?? element))
        }
        return serialize(head, fields: fields)
    }

    /// The head's bytes, appended straight into one array (no intermediate strings).
    private static func serialize(_ head: HTTPHead, fields: [(name: String, value: String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        let version = "HTTP/\(head.version.major).\(head.version.minor)"
        switch head.kind {
        case .request(let method, let target):
            bytes += method.utf8
            bytes.append(0x20)
            bytes += target.utf8
            bytes.append(0x20)
            bytes += version.utf8
        case .response(let status):
            bytes += version.utf8
            bytes.append(0x20)
            bytes += String(status).utf8
        }
        bytes += [0x0D, 0x0A]
        for field in fields {
            bytes += field.name.utf8
            bytes += [0x3A, 0x20]
            bytes += field.value.utf8
            bytes += [0x0D, 0x0A]
        }
        bytes += [0x0D, 0x0A]
        return bytes
    }
}

/// Which fields tell the backend about the client.
public enum HTTPForwardedFields: Sendable, Equatable {
    /// X-Forwarded-For, -Proto and -Host.
    case xForwarded
    /// RFC 7239 Forwarded.
    case forwarded
    /// Both kinds.
    case both
    /// None: the request head goes as it came.
    case none
}

/// The responses znetd makes itself: short, closing the connection, never cached.
public enum HTTPErrorResponse {
    public static func bytes(status: Int, retryAfterSeconds: Int? = nil, detail: String? = nil) -> [UInt8] {
        let reason = reasonPhrase(status)
        let body = "\(status) \(reason)" + (detail.map { ": \($0)" } ?? "") + "\n"
        var text = "HTTP/1.1 \(status) \(reason)\r\n"
        text += "Content-Type: text/plain; charset=utf-8\r\n"
        text += "Content-Length: \(body.utf8.count)\r\n"
        text += "Cache-Control: no-store\r\n"
        if let retryAfterSeconds { text += "Retry-After: \(retryAfterSeconds)\r\n" }
        text += "Connection: close\r\n\r\n"
        return Array((text + body).utf8)
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 431: return "Request Header Fields Too Large"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Error"
        }
    }
}

extension String {
    fileprivate var containsColon: Bool { utf8.contains(UInt8(ascii: ":")) }
}
