import Testing
@testable import ZnetdHTTP

private func head(_ text: String, request: Bool = false) throws -> HTTPHead {
    try #require(try HTTPHeadParser.parse(Array(text.utf8), isRequest: request)).head
}

@Test func responseBodyLengthFollowsRFC9112() throws {
    let ok = "HTTP/1.1 200 OK\r\n"
    #expect(HTTPBodyLength.of(response: try head(ok + "Content-Length: 12\r\n\r\n"), method: "GET") == .fixed(12))
    #expect(HTTPBodyLength.of(response: try head(ok + "Content-Length: 12\r\n\r\n"), method: "HEAD") == .none)
    #expect(HTTPBodyLength.of(response: try head(ok + "Transfer-Encoding: chunked\r\n\r\n"), method: "GET") == .chunked)
    #expect(HTTPBodyLength.of(response: try head(ok + "Transfer-Encoding: gzip\r\n\r\n"), method: "GET") == .untilClose)
    #expect(HTTPBodyLength.of(response: try head(ok + "\r\n"), method: "GET") == .untilClose)
    #expect(HTTPBodyLength.of(response: try head("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"), method: "GET") == .none)
    #expect(HTTPBodyLength.of(response: try head("HTTP/1.1 100 Continue\r\n\r\n"), method: "POST") == .none)
    #expect(HTTPBodyLength.of(response: try head("HTTP/1.1 101 Switching Protocols\r\n\r\n"), method: "GET") == .untilClose)
    #expect(HTTPBodyLength.of(response: try head(ok + "\r\n"), method: "CONNECT") == .untilClose)
    #expect(HTTPBodyLength.of(request: try head("GET / HTTP/1.1\r\n\r\n", request: true)) == .none)
    #expect(HTTPBodyLength.of(request: try head("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", request: true)) == .none)
}

@Test func fixedBodyEndsAfterItsLength() throws {
    var scanner = HTTPBodyScanner(.fixed(5))
    #expect(try scanner.scan(Array("abc".utf8)) == (3, false))
    #expect(try scanner.scan(Array("deNEXT".utf8)) == (2, true))
    #expect(scanner.isComplete)
}

@Test func chunkedBodyEndsAfterTheTrailers() throws {
    let body = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n"
    let next = "GET / HTTP/1.1\r\n\r\n"
    var whole = HTTPBodyScanner(.chunked)
    #expect(try whole.scan(Array((body + next).utf8)) == (body.utf8.count, true))
    // Byte by byte: the same end, whatever the reads.
    var split = HTTPBodyScanner(.chunked)
    var total = 0
    for (index, byte) in Array(body.utf8).enumerated() {
        let (consumed, complete) = try split.scan([byte])
        total += consumed
        #expect(complete == (index == body.utf8.count - 1))
    }
    #expect(total == body.utf8.count)
}

@Test func chunkedBodyWithoutTrailersAndWithBareLineFeeds() throws {
    var scanner = HTTPBodyScanner(.chunked)
    #expect(try scanner.scan(Array("3\nabc\n0\n\n".utf8)) == (9, true))
}

@Test(arguments: ["x\r\n", "\r\n", "3\r\nabcd\r\n", "11111111111111111\r\n", "3\rx"])
func refusesBadChunks(text: String) {
    var scanner = HTTPBodyScanner(.chunked)
    #expect(throws: HTTPHeadError.self) { try scanner.scan(Array(text.utf8)) }
}

@Test func untilCloseNeverEnds() throws {
    var scanner = HTTPBodyScanner(.untilClose)
    #expect(try scanner.scan(Array("anything\r\n\r\n".utf8)) == (12, false))
    var none = HTTPBodyScanner(.none)
    #expect(try none.scan(Array("GET".utf8)) == (0, true))
}
