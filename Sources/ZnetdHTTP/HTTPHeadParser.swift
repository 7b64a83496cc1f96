/// Reads an HTTP/1.x head from the start of a byte buffer (RFC 9112 sections 2 to 5).
///
/// Strict where leniency lets a request mean one thing to znetd and another to the backend
/// (request smuggling): no white space between a field name and its colon, no folded lines,
/// no conflicting or doubled framing fields. Lenient where that is harmless: bare LF line ends,
/// empty lines before a request line.
public enum HTTPHeadParser {
    /// The largest head read; a longer one is refused (431 for a request).
    public static let defaultLimit = 64 * 1024

    /// The head at the start of `bytes` and its length including the empty line, or `nil` when
    /// the head is not complete yet (and within `limit`).
    public static func parse(
        _ bytes: some Collection<UInt8>, isRequest: Bool, limit: Int = defaultLimit
    ) throws(HTTPHeadError) -> (head: HTTPHead, length: Int)? {
        let buffer = Array(bytes.prefix(limit + 4))
        var start = 0
        if isRequest {  // RFC 9112 section 2.2: ignore empty lines before the request line
            while start < buffer.count, buffer[start] == 0x0D || buffer[start] == 0x0A { start += 1 }
        }
        guard let (lines, end) = headLines(buffer, from: start) else {
            if buffer.count - start > limit { throw .tooLarge(limit: limit) }
            return nil
        }
        if end - start > limit { throw .tooLarge(limit: limit) }
        guard let first = lines.first else { throw .malformed("empty head") }
        var head = try isRequest ? requestLine(first) : statusLine(first)
        for line in lines.dropFirst() {
            head.fields.append(try field(line))
        }
        try checkFraming(head)
        return (head, end)
    }

    /// The lines of a complete head (without line ends) and the offset after its empty line.
    private static func headLines(_ buffer: [UInt8], from start: Int) -> ([ArraySlice<UInt8>], Int)? {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = start
        var index = start
        while index < buffer.count {
            if buffer[index] == 0x0A {
                var lineEnd = index
                if lineEnd > lineStart && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                if lineEnd == lineStart { return (lines, index + 1) }
                lines.append(buffer[lineStart..<lineEnd])
                lineStart = index + 1
            }
            index += 1
        }
        return nil
    }

    /// Field values may carry obs-text (bytes >= 0x80): kept; control bytes never.
    private static func checkNoControlBytes(_ bytes: ArraySlice<UInt8>) throws(HTTPHeadError) {
        for byte in bytes where byte < 0x20 && byte != 0x09 || byte == 0x7F {
            throw .malformed("control character in the head")
        }
    }

    /// `HTTP/1.0` or `HTTP/1.1` (any single-digit minor), read on its bytes.
    private static func version(_ bytes: ArraySlice<UInt8>) throws(HTTPHeadError) -> (major: Int, minor: Int) {
        let digit = UInt8(ascii: "0")...UInt8(ascii: "9")
        guard bytes.count == 8, bytes.starts(with: "HTTP/".utf8),
            case let major = bytes[bytes.startIndex + 5], digit.contains(major),
            bytes[bytes.startIndex + 6] == UInt8(ascii: "."),
            case let minor = bytes[bytes.startIndex + 7], digit.contains(minor)
        else { throw .malformed("bad HTTP version '\(String(decoding: bytes, as: UTF8.self))'") }
        guard major == UInt8(ascii: "1") else {
            throw .malformed("unsupported HTTP version '\(String(decoding: bytes, as: UTF8.self))'")
        }
        return (1, Int(minor - UInt8(ascii: "0")))
    }

    private static func requestLine(_ line: ArraySlice<UInt8>) throws(HTTPHeadError) -> HTTPHead {
        try checkNoControlBytes(line)
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[0].allSatisfy(isTokenByte)
        else { throw .malformed("bad request line") }
        return HTTPHead(
            kind: .request(method: String(decoding: parts[0], as: UTF8.self), target: String(decoding: parts[1], as: UTF8.self)),
            version: try version(parts[2]), fields: [])
    }

    /// `HTTP/1.1 200 reason`, read on its bytes (the reason phrase is not kept).
    private static func statusLine(_ line: ArraySlice<UInt8>) throws(HTTPHeadError) -> HTTPHead {
        try checkNoControlBytes(line)
        let parts = line.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        let digit = UInt8(ascii: "0")...UInt8(ascii: "9")
        guard parts.count >= 2, parts[1].count == 3, parts[1].allSatisfy(digit.contains),
            case let status = parts[1].reduce(0, { $0 * 10 + Int($1 - UInt8(ascii: "0")) }), status >= 100
        else { throw .malformed("bad status line") }
        return HTTPHead(kind: .response(status: status), version: try version(parts[0]), fields: [])
    }

    /// A field line, read on its bytes: every request has a handful, so no Character walks.
    private static func field(_ line: ArraySlice<UInt8>) throws(HTTPHeadError) -> (name: String, value: String) {
        if line.first == 0x20 || line.first == 0x09 { throw .malformed("folded header line") }
        try checkNoControlBytes(line)
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformed("header line without a colon") }
        let name = line[..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
            throw .malformed("bad header name '\(String(decoding: name, as: UTF8.self))'")
        }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// Content-Length and Transfer-Encoding that a recipient could read two ways are refused.
    private static func checkFraming(_ head: HTTPHead) throws(HTTPHeadError) {
        let lengths = head.fields.filter { $0.name.equalsIgnoringASCIICase("content-length") }
            .flatMap { $0.value.split(separator: ",").map { $0.trimmingBlanks() } }
        if let first = lengths.first {
            guard !first.isEmpty, first.allSatisfy({ $0.isASCII && $0.isNumber }), UInt64(first) != nil,
                lengths.allSatisfy({ $0 == first })
            else { throw .malformed("bad Content-Length") }
        }
        let codings = head.tokens("transfer-encoding")
        if !codings.isEmpty {
            if !lengths.isEmpty { throw .malformed("both Transfer-Encoding and Content-Length") }
            if head.version.minor == 0 { throw .malformed("Transfer-Encoding in an HTTP/1.0 message") }
            if case .request = head.kind, codings.last != "chunked" {
                throw .malformed("a request's last transfer coding must be chunked")
            }
            if codings.dropLast().contains("chunked") { throw .malformed("chunked applied twice") }
        }
    }
}

/// tchar (RFC 9110 section 5.6.2).
func isTokenCharacter(_ character: Character) -> Bool {
    character.asciiValue.map(isTokenByte) ?? false
}

/// tchar, on a byte.
func isTokenByte(_ ascii: UInt8) -> Bool {
    switch ascii {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    default:
        return "!#$%&'*+-.^_`|~".utf8.contains(ascii)
    }
}
