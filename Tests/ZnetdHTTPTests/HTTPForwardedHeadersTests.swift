import Testing
@testable import ZnetdHTTP

private func rewritten(_ request: String, client: String, tls: Bool = false) throws -> String {
    let head = try #require(try HTTPHeadParser.parse(Array(request.utf8), isRequest: true)).head
    return String(decoding: HTTPForwardedHeaders.rewrite(head, client: client, isTLS: tls, host: head.host), as: UTF8.self)
}

@Test func addsForwardedFieldsAndKeepsTheRest() throws {
    let text = try rewritten("GET /a?b HTTP/1.1\r\nHost: Example.com:8080\r\nAccept: */*\r\n\r\n", client: "192.0.2.7")
    #expect(text == """
        GET /a?b HTTP/1.1\r
        Host: Example.com:8080\r
        Accept: */*\r
        X-Forwarded-For: 192.0.2.7\r
        X-Forwarded-Proto: http\r
        X-Forwarded-Host: example.com\r
        Forwarded: for=192.0.2.7;proto=http;host="example.com"\r
        \r

        """)
}

@Test func appendsToTheClientsListsAndReplacesItsClaims() throws {
    let text = try rewritten("""
        POST / HTTP/1.1\r
        Host: a.test\r
        X-Forwarded-For: 10.0.0.1\r
        X-Forwarded-For: 10.0.0.2\r
        X-Forwarded-Proto: https\r
        Forwarded: for=10.0.0.1\r
        Content-Length: 0\r
        \r

        """, client: "2001:db8::5", tls: true)
    #expect(text.containsText("X-Forwarded-For: 10.0.0.1, 10.0.0.2, 2001:db8::5\r\n"))
    #expect(text.containsText("X-Forwarded-Proto: https\r\n"))
    #expect(!text.containsText("X-Forwarded-Proto: https\r\nX-Forwarded-Proto"))
    #expect(text.containsText("Forwarded: for=10.0.0.1, for=\"[2001:db8::5]\";proto=https;host=\"a.test\"\r\n"))
    #expect(text.containsText("Content-Length: 0\r\n"))
}

@Test func errorResponsesCloseAndSayWhy() {
    let text = String(decoding: HTTPErrorResponse.bytes(status: 503, retryAfterSeconds: 5, detail: "app is starting"), as: UTF8.self)
    #expect(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
    #expect(text.containsText("Retry-After: 5\r\n"))
    #expect(text.containsText("Connection: close\r\n"))
    #expect(text.hasSuffix("\r\n\r\n503 Service Unavailable: app is starting\n"))
    #expect(text.containsText("Content-Length: 41\r\n"))
}

extension String {
    fileprivate func containsText(_ text: String) -> Bool { firstRange(of: text) != nil }
}

@Test func eachForwardedStyleWritesOnlyItsFields() throws {
    let request = "GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 10.0.0.1\r\nForwarded: for=10.0.0.1\r\n\r\n"
    let head = try #require(try HTTPHeadParser.parse(Array(request.utf8), isRequest: true)).head
    func text(_ fields: HTTPForwardedFields) -> String {
        String(decoding: HTTPForwardedHeaders.rewrite(head, client: "192.0.2.7", isTLS: true, host: "a.test", fields: fields),
               as: UTF8.self)
    }
    #expect(text(.xForwarded) == "GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 10.0.0.1, 192.0.2.7\r\n"
        + "X-Forwarded-Proto: https\r\nX-Forwarded-Host: a.test\r\nForwarded: for=10.0.0.1\r\n\r\n")
    #expect(text(.forwarded) == "GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 10.0.0.1\r\n"
        + "Forwarded: for=10.0.0.1, for=192.0.2.7;proto=https;host=\"a.test\"\r\n\r\n")
    #expect(text(.none) == request)
}
