/// What the first bytes of a connection say about TLS.
public enum ClientHelloPeek: Equatable {
    /// Not enough bytes yet to tell.
    case incomplete
    /// Not a TLS ClientHello.
    case notTLS
    /// A ClientHello, with the server name it asks for (SNI), if any.
    case hello(serverName: String?)
}

/// Reads the server name from a TLS ClientHello at the start of `bytes` (as peeked from a
/// socket, nothing consumed), for routing a connection without terminating its TLS. The hello
/// may span several handshake records; the name is lowercased, without a trailing dot.
public func peekClientHello(_ bytes: UnsafeRawBufferPointer) -> ClientHelloPeek {
    // Gather the handshake message from its records.
    var handshake: [UInt8] = []
    var offset = 0
    var needed: Int?
    while needed == nil || handshake.count < needed! {
        guard bytes.count >= offset + 5 else { return .incomplete }
        guard bytes[offset] == 0x16, bytes[offset + 1] == 0x03 else { return .notTLS }
        let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
        guard length > 0, length <= 16384 + 2048 else { return .notTLS }
        guard bytes.count >= offset + 5 + length else { return .incomplete }
        handshake += bytes[(offset + 5)..<(offset + 5 + length)]
        offset += 5 + length
        if needed == nil, handshake.count >= 4 {
            guard handshake[0] == 0x01 else { return .notTLS }
            needed = 4 + (Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3]))
            guard needed! <= 64 * 1024 else { return .notTLS }
        }
    }
    var reader = ByteReader(Array(handshake[4..<needed!]))
    guard reader.skip(2 + 32),  // version, random
          let sessionID = reader.byte(), reader.skip(Int(sessionID)),
          let suites = reader.uint16(), reader.skip(suites),
          let compression = reader.byte(), reader.skip(Int(compression))
    else { return .notTLS }
    guard let extensionsLength = reader.uint16() else { return .hello(serverName: nil) }
    var extensions = ByteReader(reader.take(extensionsLength) ?? [])
    while let type = extensions.uint16(), let length = extensions.uint16() {
        guard let data = extensions.take(length) else { return .notTLS }
        guard type == 0 else { continue }  // server_name
        var names = ByteReader(data)
        guard let listLength = names.uint16(), var list = names.take(listLength).map(ByteReader.init) else { return .notTLS }
        while let nameType = list.byte(), let nameLength = list.uint16(), let name = list.take(nameLength) {
            guard nameType == 0 else { continue }  // host_name
            var text = String(decoding: name, as: UTF8.self).lowercased()
            if text.hasSuffix(".") { text.removeLast() }
            return .hello(serverName: text.isEmpty ? nil : text)
        }
        return .hello(serverName: nil)
    }
    return .hello(serverName: nil)
}

private struct ByteReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func byte() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint16() -> Int? {
        guard position + 2 <= bytes.count else { return nil }
        defer { position += 2 }
        return Int(bytes[position]) << 8 | Int(bytes[position + 1])
    }

    mutating func skip(_ count: Int) -> Bool {
        guard position + count <= bytes.count else { return false }
        position += count
        return true
    }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard position + count <= bytes.count else { return nil }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }
}
