/// Where a message body ends (RFC 9112 section 6.3), so that a keep-alive connection's next
/// request can be routed on its own and a response is known to be complete.
public enum HTTPBodyLength: Sendable, Equatable {
    /// No body: the next message starts right after the head.
    case none
    case fixed(UInt64)
    case chunked
    /// The body ends when the sender closes the connection (responses only; also a tunnel
    /// after a 101 or a successful CONNECT).
    case untilClose

    /// A request's body length (its head has passed ``HTTPHeadParser``'s framing checks).
    public static func of(request head: HTTPHead) -> HTTPBodyLength {
        if head.tokens("transfer-encoding").last == "chunked" { return .chunked }
        if let length = head.field("content-length").flatMap({ UInt64($0.split(separator: ",")[0].trimmingBlanks()) }) {
            return length == 0 ? .none : .fixed(length)
        }
        return .none
    }

    /// A response's body length; `method` is the request's.
    public static func of(response head: HTTPHead, method: String) -> HTTPBodyLength {
        guard case .response(let status) = head.kind else { return .none }
        if status == 101 || (method == "CONNECT" && (200..<300).contains(status)) { return .untilClose }
        if method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304 { return .none }
        let codings = head.tokens("transfer-encoding")
        if codings.last == "chunked" { return .chunked }
        if !codings.isEmpty { return .untilClose }
        if let length = head.field("content-length").flatMap({ UInt64($0.split(separator: ",")[0].trimmingBlanks()) }) {
            return length == 0 ? .none : .fixed(length)
        }
        return .untilClose
    }
}

/// Follows a body through the bytes that carry it, without changing them: how many of the
/// bytes offered belong to the body, and whether it has ended.
public struct HTTPBodyScanner: Sendable {
    private enum State: Sendable, Equatable {
        case fixed(remaining: UInt64)
        case chunkSize(value: UInt64, digits: Int, inExtension: Bool, sawCR: Bool)
        case chunkData(remaining: UInt64)
        case chunkDataEnd(sawCR: Bool)
        case trailer(lineLength: Int, sawCR: Bool)
        case untilClose
        case done
    }

    private var state: State
    /// Longest chunk-size line and trailer line accepted.
    static let lineLimit = 8 * 1024

    public init(_ length: HTTPBodyLength) {
        switch length {
        case .none: state = .done
        case .fixed(let count): state = count == 0 ? .done : .fixed(remaining: count)
        case .chunked: state = .chunkSize(value: 0, digits: 0, inExtension: false, sawCR: false)
        case .untilClose: state = .untilClose
        }
    }

    public var isComplete: Bool { state == .done }

    /// Consumes the body's bytes at the start of `bytes`: the count that belongs to the body
    /// (all of them until it ends) and whether it ended there.
    public mutating func scan(_ bytes: some Collection<UInt8>) throws(HTTPHeadError) -> (consumed: Int, complete: Bool) {
        var consumed = 0
        var index = bytes.startIndex
        while index != bytes.endIndex {
            switch state {
            case .done:
                return (consumed, true)
            case .untilClose:
                return (bytes.count, false)
            case .fixed(let remaining), .chunkData(let remaining):
                let available = UInt64(bytes.distance(from: index, to: bytes.endIndex))
                let take = min(remaining, available)
                index = bytes.index(index, offsetBy: Int(take))
                consumed += Int(take)
                if case .fixed = state {
                    state = take == remaining ? .done : .fixed(remaining: remaining - take)
                } else {
                    state = take == remaining ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - take)
                }
                continue
            default:
                break
            }
            let byte = bytes[index]
            index = bytes.index(after: index)
            consumed += 1
            try step(byte)
        }
        return (consumed, state == .done)
    }

    /// One byte of the chunked framing (size lines, the CRLF after data, trailers).
    private mutating func step(_ byte: UInt8) throws(HTTPHeadError) {
        switch state {
        case .chunkSize(let value, let digits, let inExtension, let sawCR):
            if byte == 0x0A {
                guard digits > 0 else { throw .malformed("chunk size missing") }
                state = value == 0 ? .trailer(lineLength: 0, sawCR: false) : .chunkData(remaining: value)
            } else if sawCR {
                throw .malformed("CR without LF in a chunk size line")
            } else if byte == 0x0D {
                state = .chunkSize(value: value, digits: digits, inExtension: inExtension, sawCR: true)
            } else if inExtension || byte == UInt8(ascii: ";") || byte == 0x20 || byte == 0x09 {
                guard digits > 0 else { throw .malformed("chunk size missing") }
                state = .chunkSize(value: value, digits: digits + 1, inExtension: true, sawCR: false)
                if digits > Self.lineLimit { throw .malformed("chunk extension too long") }
            } else if let digit = hexValue(byte) {
                guard digits < 16 else { throw .malformed("chunk size too large") }
                state = .chunkSize(value: value << 4 | UInt64(digit), digits: digits + 1, inExtension: false, sawCR: false)
            } else {
                throw .malformed("bad chunk size")
            }
        case .chunkDataEnd(let sawCR):
            if byte == 0x0A {
                state = .chunkSize(value: 0, digits: 0, inExtension: false, sawCR: false)
            } else if byte == 0x0D && !sawCR {
                state = .chunkDataEnd(sawCR: true)
            } else {
                throw .malformed("chunk data longer than its size")
            }
        case .trailer(let lineLength, let sawCR):
            if byte == 0x0A {
                state = lineLength == 0 ? .done : .trailer(lineLength: 0, sawCR: false)
            } else if byte == 0x0D && !sawCR {
                state = .trailer(lineLength: lineLength, sawCR: true)
            } else {
                guard lineLength < Self.lineLimit else { throw .malformed("trailer line too long") }
                state = .trailer(lineLength: lineLength + (sawCR ? 2 : 1), sawCR: false)
            }
        default:
            break
        }
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}
