/// What the first bytes of a connection say about the TLS server name the client wants.
public enum ClientHelloPeek: Equatable, Sendable {
    /// A TLS handshake so far, but the ClientHello is not complete yet: peek again when more
    /// bytes arrive.
    case incomplete
    /// Not a TLS ClientHello (another protocol, or a malformed one).
    case notTLS
    /// A complete ClientHello; `serverName` is its SNI host name, lowercased without a trailing
    /// dot, or nil when the client sent none.
    case hello(serverName: String?)
}

/// Reads the server name indication from the start of a TLS connection (RFC 8446 4.1.2,
/// RFC 6066 3) without terminating TLS: `mode: tcp` listeners route on it and then splice the
/// untouched bytes (they were only peeked) to the chosen backend.
///
/// The ClientHello may be split over several handshake records (RFC 8446 5.1); they are joined.
/// Nothing is trusted: every length is checked against what is present.
public func peekClientHello(_ bytes: UnsafeRawBufferPointer) -> ClientHelloPeek {
    // Join the fragments of the handshake message from consecutive handshake records.
    var handshake: [UInt8] = []
    var offset = 0
    while true {
        guard bytes.count - offset >= 5 else { return .incomplete }
        // ContentType handshake(22); legacy_record_version 3.x.
        guard bytes[offset] == 22, bytes[offset + 1] == 3 else { return .notTLS }
        let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
        // A record holds at most 2^14 bytes of plaintext, and a handshake record never none.
        guard length > 0, length <= 1 << 14 else { return .notTLS }
        let available = min(length, bytes.count - offset - 5)
        handshake.append(contentsOf: bytes[(offset + 5)..<(offset + 5 + available)])
        if handshake.count >= 4 {
            // HandshakeType client_hello(1), then a 24-bit length.
            guard handshake[0] == 1 else { return .notTLS }
            let messageLength = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
            if handshake.count >= 4 + messageLength {
                return parseClientHello(handshake[4..<(4 + messageLength)])
            }
        }
        guard available == length else { return .incomplete }
        offset += 5 + length
    }
}

/// The ClientHello body: version, random, session id, cipher suites, compression methods,
/// then the extensions, among which server_name(0).
private func parseClientHello(_ body: ArraySlice<UInt8>) -> ClientHelloPeek {
    var reader = ByteReader(body)
    guard reader.skip(2 + 32),  // legacy_version, random
        let sessionIDLength = reader.uint8(), reader.skip(Int(sessionIDLength)),
        let cipherSuitesLength = reader.uint16(), reader.skip(Int(cipherSuitesLength)),
        let compressionLength = reader.uint8(), reader.skip(Int(compressionLength))
    else { return .notTLS }
    // Extensions are optional in a TLS 1.2 ClientHello.
    if reader.isAtEnd { return .hello(serverName: nil) }
    guard let extensionsLength = reader.uint16(), var extensions = reader.bytes(Int(extensionsLength)) else {
        return .notTLS
    }
    while !extensions.isAtEnd {
        guard let type = extensions.uint16(), let length = extensions.uint16(),
            var data = extensions.bytes(Int(length))
        else { return .notTLS }
        guard type == 0 else { continue }
        // ServerNameList: a 16-bit length, then entries of name_type and a 16-bit length name.
        guard let listLength = data.uint16(), var list = data.bytes(Int(listLength)) else { return .notTLS }
        while !list.isAtEnd {
            guard let nameType = list.uint8(), let nameLength = list.uint16(),
                let name = list.bytes(Int(nameLength))
            else { return .notTLS }
            guard nameType == 0 else { continue }  // host_name is the only type defined
            return hostName(name.remaining).map { .hello(serverName: $0) } ?? .notTLS
        }
        return .hello(serverName: nil)
    }
    return .hello(serverName: nil)
}

/// A DNS host name as RFC 6066 allows it: ASCII, no NUL, no IP literal check needed for
/// routing; lowercased and without a trailing dot, as route hosts are written.
private func hostName(_ bytes: ArraySlice<UInt8>) -> String? {
    guard !bytes.isEmpty, bytes.count <= 255,
        bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "/") })
    else { return nil }
    var name = String(decoding: bytes, as: UTF8.self).lowercased()
    if name.hasSuffix(".") { name.removeLast() }
    return name.isEmpty ? nil : name
}

/// Big-endian fields from a byte slice, each read checked against the bytes left.
private struct ByteReader {
    private(set) var remaining: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { remaining = bytes }

    var isAtEnd: Bool { remaining.isEmpty }

    mutating func skip(_ count: Int) -> Bool {
        guard remaining.count >= count else { return false }
        remaining = remaining.dropFirst(count)
        return true
    }

    mutating func uint8() -> UInt8? {
        guard let byte = remaining.first else { return nil }
        remaining = remaining.dropFirst()
        return byte
    }

    mutating func uint16() -> UInt16? {
        guard remaining.count >= 2 else { return nil }
        let value = UInt16(remaining[remaining.startIndex]) << 8 | UInt16(remaining[remaining.startIndex + 1])
        remaining = remaining.dropFirst(2)
        return value
    }

    mutating func bytes(_ count: Int) -> ByteReader? {
        guard remaining.count >= count else { return nil }
        defer { remaining = remaining.dropFirst(count) }
        return ByteReader(remaining.prefix(count))
    }
}
