import Testing
import ZnetdHTTP

/// A TLS 1.2-style ClientHello record asking for `serverName` (none: no SNI extension), as
/// clients send it; `split` cuts the handshake into two records.
private func clientHello(serverName: String?, split: Int? = nil) -> [UInt8] {
    func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    var extensions: [UInt8] = []
    if let serverName {
        let name = Array(serverName.utf8)
        let entry = [0x00] + u16(name.count) + name
        let list = u16(entry.count) + entry
        extensions += u16(0) + u16(list.count) + list
    }
    extensions += u16(0x000B) + u16(2) + [0x01, 0x00]  // ec_point_formats, after SNI or alone
    var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 7, count: 32)
    body += [32] + [UInt8](repeating: 9, count: 32)  // session id
    body += u16(4) + [0x13, 0x01, 0xC0, 0x2F]  // cipher suites
    body += [1, 0]  // compression: null
    body += u16(extensions.count) + extensions
    let handshake = [0x01, 0x00] + u16(body.count) + body
    let parts = split.map { [Array(handshake[..<$0]), Array(handshake[$0...])] } ?? [handshake]
    return parts.flatMap { [0x16, 0x03, 0x01] + u16($0.count) + $0 }
}

private func peek(_ bytes: [UInt8]) -> ClientHelloPeek {
    bytes.withUnsafeBytes { peekClientHello($0) }
}

@Test func readsTheServerName() {
    #expect(peek(clientHello(serverName: "Blog.Example.com.")) == .hello(serverName: "blog.example.com"))
    #expect(peek(clientHello(serverName: nil)) == .hello(serverName: nil))
    #expect(peek(clientHello(serverName: "a.test", split: 20)) == .hello(serverName: "a.test"))
}

@Test func waitsForTheWholeHello() {
    let hello = clientHello(serverName: "a.test", split: 30)
    for length in [0, 1, 4, 5, 20, 34, 40, hello.count - 1] {
        #expect(peek(Array(hello[..<length])) == .incomplete, "\(length)")
    }
}

@Test func refusesWhatIsNotAClientHello() {
    #expect(peek(Array("GET / HTTP/1.1\r\n\r\n".utf8)) == .notTLS)
    #expect(peek([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]) == .notTLS)  // ServerHello
    #expect(peek([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]) == .notTLS)  // an alert
}
