import CZnetdLinux
import Glibc
import Testing
@testable import ZnetdHTTP

/// The ClientHello OpenSSL really sends (the first flight of a client handshake), caught on the
/// other end of a socketpair.
private func clientHello(serverName: String?) throws -> [UInt8] {
    var fds: [Int32] = [0, 0]
    #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
    defer { close(fds[0]); close(fds[1]) }
    for fd in fds { #expect(znetd_set_nonblocking(fd, 1) == 0) }
    let client = try TLSStream(client: TLSClientContext(), fd: fds[1], serverName: serverName)
    #expect(client.handshake() == .wantsRead)
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    let count = buffer.withUnsafeMutableBytes { recv(fds[0], $0.baseAddress, $0.count, 0) }
    try #require(count > 0)
    return Array(buffer.prefix(count))
}

private func peek(_ bytes: [UInt8]) -> ClientHelloPeek {
    bytes.withUnsafeBytes { peekClientHello($0) }
}

@Test func serverNameOfARealClientHello() throws {
    #expect(peek(try clientHello(serverName: "Blog.Example.COM")) == .hello(serverName: "blog.example.com"))
    #expect(peek(try clientHello(serverName: nil)) == .hello(serverName: nil))
}

@Test func everyShorterPrefixIsIncomplete() throws {
    let hello = try clientHello(serverName: "a.test")
    for length in 0..<hello.count {
        #expect(peek(Array(hello.prefix(length))) == .incomplete, "prefix of \(length) bytes")
    }
}

@Test func aClientHelloSplitOverRecordsIsJoined() throws {
    let hello = try clientHello(serverName: "split.test")
    let handshake = Array(hello.dropFirst(5))
    // The same handshake message in records of 7 bytes each, as RFC 8446 5.1 allows.
    var records: [UInt8] = []
    var index = 0
    while index < handshake.count {
        let chunk = handshake[index..<min(index + 7, handshake.count)]
        records += [22, 3, 1, 0, UInt8(chunk.count)] + chunk
        index += 7
    }
    #expect(peek(records) == .hello(serverName: "split.test"))
    #expect(peek(Array(records.dropLast())) == .incomplete)
}

@Test func otherProtocolsAndBrokenHellosAreNotTLS() throws {
    #expect(peek(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)) == .notTLS)
    #expect(peek(Array("SSH-2.0-OpenSSH_9.2\r\n".utf8)) == .notTLS)
    var hello = try clientHello(serverName: "a.test")
    // An alert record instead of a handshake.
    var alert = hello
    alert[0] = 21
    #expect(peek(alert) == .notTLS)
    // A ServerHello (type 2) is not what a client sends.
    var serverHello = hello
    serverHello[5] = 2
    #expect(peek(serverHello) == .notTLS)
    // Lengths that point past the message: the extensions block claims more than there is.
    let extensionsOffset = hello.count - extensionsLength(hello) - 2
    hello[extensionsOffset] = 0xff
    #expect(peek(hello) == .notTLS)
}

@Test func aNameWithForbiddenBytesIsNotTLS() throws {
    var hello = try clientHello(serverName: "abc.test")
    let position = try #require(hello.indices.first { hello[$0...].starts(with: Array("abc.test".utf8)) })
    hello[position + 1] = 0  // a NUL inside the name
    #expect(peek(hello) == .notTLS)
}

/// The 16-bit length of the extensions block of a one-record ClientHello.
private func extensionsLength(_ hello: [UInt8]) -> Int {
    var offset = 5 + 4 + 2 + 32
    offset += 1 + Int(hello[offset])
    offset += 2 + (Int(hello[offset]) << 8 | Int(hello[offset + 1]))
    offset += 1 + Int(hello[offset])
    return Int(hello[offset]) << 8 | Int(hello[offset + 1])
}
