import Testing
@testable import ZnetdHTTP

private func request(_ text: String) throws -> (head: HTTPHead, length: Int)? {
    try HTTPHeadParser.parse(Array(text.utf8), isRequest: true)
}

private func requestError(_ text: String) -> HTTPHeadError? {
    do {
        _ = try HTTPHeadParser.parse(Array(text.utf8), isRequest: true)
        return nil
    } catch {
        return error
    }
}

@Test func readsARequestHeadAndItsLength() throws {
    let text = "GET /api/v1?x=1 HTTP/1.1\r\nHost: Example.COM:8080\r\nX-A:  spaced  \r\n\r\nBODY"
    let (head, length) = try #require(try request(text))
    #expect(length == text.utf8.count - 4)
    #expect(head.kind == .request(method: "GET", target: "/api/v1?x=1"))
    #expect(head.version == (1, 1))
    #expect(head.host == "example.com")
    #expect(head.path == "/api/v1")
    #expect(head.field("x-a") == "spaced")
    #expect(head.keepsAlive)
}

@Test func waitsForTheWholeHead() throws {
    #expect(try request("GET / HTTP/1.1\r\nHost: a\r\n") == nil)
    #expect(try request("GET / HTTP/1.1\r\nHost: a\r\n\r") == nil)
    #expect(try request("") == nil)
}

@Test func acceptsBareLineFeedsAndLeadingEmptyLines() throws {
    let (head, length) = try #require(try request("\r\n\nGET / HTTP/1.0\nHost: a\n\n"))
    #expect(head.host == "a")
    #expect(length == 27)
    #expect(!head.keepsAlive)  // HTTP/1.0 without keep-alive
}

@Test func connectionTokensDecideKeepAlive() throws {
    #expect(try #require(try request("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n")).head.keepsAlive == false)
    #expect(try #require(try request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).head.keepsAlive)
}

@Test func absoluteFormTargetsNameTheirHost() throws {
    let head = try #require(try request("GET http://Other.example:81/p/q?z HTTP/1.1\r\nHost: ignored\r\n\r\n")).head
    #expect(head.host == "other.example")
    #expect(head.path == "/p/q")
    let v6 = try #require(try request("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")).head
    #expect(v6.host == "[::1]")
    let dotted = try #require(try request("GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n")).head
    #expect(dotted.host == "example.com")
    let none = try #require(try request("GET / HTTP/1.1\r\n\r\n")).head
    #expect(none.host == nil)
}

@Test(arguments: [
    ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "bad header name 'Host '"),
    ("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", "folded header line"),
    ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", "header line without a colon"),
    ("GET /  HTTP/1.1\r\n\r\n", "bad request line"),
    ("GET / HTTP/2.0\r\n\r\n", "unsupported HTTP version 'HTTP/2.0'"),
    ("GET / HTTQ/1.1\r\n\r\n", "bad HTTP version 'HTTQ/1.1'"),
    ("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "bad Content-Length"),
    ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
    ("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
     "both Transfer-Encoding and Content-Length"),
    ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "a request's last transfer coding must be chunked"),
    ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "chunked applied twice"),
    ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding in an HTTP/1.0 message"),
    ("GET / HTTP/1.1\r\nX: a\u{1}b\r\n\r\n", "control character in the head"),
])
func refusesAmbiguousHeads(text: String, reason: String) {
    #expect(requestError(text) == .malformed(reason))
}

@Test func sameContentLengthTwiceIsOne() throws {
    let head = try #require(try request("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n")).head
    #expect(HTTPBodyLength.of(request: head) == .fixed(5))
}

@Test func refusesAHeadOverTheLimit() {
    let big = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 100) + "\r\n\r\n"
    #expect(throws: HTTPHeadError.tooLarge(limit: 64)) {
        try HTTPHeadParser.parse(Array(big.utf8), isRequest: true, limit: 64)
    }
    // Incomplete but already too long: refused without waiting for the rest.
    #expect(throws: HTTPHeadError.tooLarge(limit: 64)) {
        try HTTPHeadParser.parse(Array(big.utf8.prefix(90)), isRequest: true, limit: 64)
    }
}

@Test func readsAResponseHead() throws {
    let text = "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"
    let (head, length) = try #require(try HTTPHeadParser.parse(Array(text.utf8), isRequest: false))
    #expect(head.kind == .response(status: 204))
    #expect(length == text.utf8.count)
    #expect(throws: HTTPHeadError.malformed("bad status line")) {
        try HTTPHeadParser.parse(Array("HTTP/1.1 20 OK\r\n\r\n".utf8), isRequest: false)
    }
}
