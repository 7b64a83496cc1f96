import Testing
@testable import ZnetdHTTP

private typealias Action = HTTPProxySession.Action

private let routes = HTTPRouteTable([
    .init(host: .exact("a.test"), pathPrefix: "/", service: "a"),
    .init(host: .exact("a.test"), pathPrefix: "/api", service: "api"),
    .init(host: .suffix(".b.test"), pathPrefix: "/", service: "b"),
])

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The text of every toClient/toBackend action, and the other actions by name.
private func describe(_ actions: [Action]) -> [String] {
    actions.map {
        switch $0 {
        case .route(let service): return "route \(service)"
        case .toBackend(let b): return "backend: " + String(decoding: b, as: UTF8.self)
        case .toClient(let b): return "client: " + String(decoding: b, as: UTF8.self)
        case .closeBackend: return "close backend"
        case .tunnel: return "tunnel"
        case .closeClient: return "close client"
        }
    }
}

private func newSession() -> HTTPProxySession {
    HTTPProxySession(routes: routes, client: "192.0.2.1", isTLS: false)
}

private let okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

@Test func routesEachRequestOfAKeepAliveConnection() {
    var session = newSession()
    #expect(describe(session.clientData(bytes("GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n"))) == ["route a"])
    let sent = describe(session.backendConnected())
    #expect(sent.count == 1 && sent[0].hasPrefix("backend: GET /x HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 192.0.2.1\r\n"))
    #expect(describe(session.backendData(bytes(okResponse))) == ["client: HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "client: ok"])
    // Same service: the backend connection is kept.
    #expect(describe(session.clientData(bytes("GET /y HTTP/1.1\r\nHost: a.test\r\n\r\n"))) == ["route a"])
    _ = session.backendConnected()
    _ = session.backendData(bytes(okResponse))
    // Another service: the previous backend connection is dropped.
    #expect(describe(session.clientData(bytes("GET /api/v1 HTTP/1.1\r\nHost: a.test:8080\r\n\r\n"))) == ["close backend", "route api"])
    _ = session.backendConnected()
    _ = session.backendData(bytes(okResponse))
    #expect(describe(session.clientData(bytes("GET / HTTP/1.1\r\nHost: www.b.test\r\n\r\n"))) == ["close backend", "route b"])
    #expect(session.requests == 4)
}

@Test func unknownHostGets404AndTheConnectionCloses() {
    var session = newSession()
    let actions = describe(session.clientData(bytes("GET /p HTTP/1.1\r\nHost: c.test\r\n\r\n")))
    #expect(actions.count == 2)
    #expect(actions[0].hasPrefix("client: HTTP/1.1 404 Not Found\r\n"))
    #expect(actions[0].hasSuffix("404 Not Found: no service for c.test/p\n"))
    #expect(actions[1] == "close client")
    #expect(session.requests == 1 && session.unroutedRequests == 1)
}

@Test func routesReplacedBeforeARequestApplyToIt() {
    var other = newSession()
    other.routes = HTTPRouteTable([HTTPRouteTable.Route(host: .exact("c.test"), service: "late")])
    #expect(describe(other.clientData(bytes("GET /p HTTP/1.1\r\nHost: c.test\r\n\r\n"))) == ["route late"])
    #expect(other.unroutedRequests == 0)
}

@Test func chunkedRequestBodyIsForwardedExactlyAcrossReads() {
    var session = newSession()
    _ = session.clientData(bytes("POST /up HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"))
    let first = describe(session.backendConnected())
    #expect(first.count == 2 && first[1] == "backend: 5\r\nhel")
    #expect(describe(session.clientData(bytes("lo\r\n0\r\n\r\n"))) == ["backend: lo\r\n0\r\n\r\n"])
    #expect(describe(session.backendData(bytes(okResponse))).count == 2)
}

@Test func pipelinedRequestWaitsForTheResponse() {
    var session = newSession()
    let two = "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /api HTTP/1.1\r\nHost: a.test\r\n\r\n"
    #expect(describe(session.clientData(bytes(two))) == ["route a"])
    _ = session.backendConnected()
    let after = describe(session.backendData(bytes(okResponse)))
    #expect(after == ["client: HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "client: ok", "close backend", "route api"])
}

@Test func upgradeBecomesATunnel() {
    var session = newSession()
    _ = session.clientData(bytes("GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
    _ = session.backendConnected()
    let actions = describe(session.backendData(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nframe")))
    #expect(actions == ["client: HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "tunnel", "client: frame"])
    #expect(describe(session.clientData(bytes("raw"))) == ["backend: raw"])
}

@Test func responseDelimitedByCloseEndsTheConnection() {
    var session = newSession()
    _ = session.clientData(bytes("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"))
    _ = session.backendConnected()
    #expect(describe(session.backendData(bytes("HTTP/1.0 200 OK\r\n\r\nbody..."))).count == 2)
    #expect(describe(session.backendClosed()) == ["close client"])
}

@Test func backendThatClosesWithoutAResponseIs502() {
    var session = newSession()
    _ = session.clientData(bytes("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"))
    _ = session.backendConnected()
    let actions = describe(session.backendClosed())
    #expect(actions.first?.hasPrefix("client: HTTP/1.1 502 Bad Gateway") == true)
    #expect(actions.last == "close client")
}

@Test func badAndOversizedRequests() {
    var bad = newSession()
    #expect(describe(bad.clientData(bytes("GET / HTTP/1.1\r\nHost : a.test\r\n\r\n"))).first?.hasPrefix("client: HTTP/1.1 400 Bad Request") == true)
    var big = HTTPProxySession(routes: routes, client: "192.0.2.1", isTLS: false, headLimit: 64)
    let actions = describe(big.clientData(bytes("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 80))))
    #expect(actions.first?.hasPrefix("client: HTTP/1.1 431 Request Header Fields Too Large") == true)
    #expect(actions.last == "close client")
}

@Test func interimResponsesPassThrough() {
    var session = newSession()
    _ = session.clientData(bytes("POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"))
    _ = session.backendConnected()
    #expect(describe(session.backendData(bytes("HTTP/1.1 100 Continue\r\n\r\n"))) == ["client: HTTP/1.1 100 Continue\r\n\r\n"])
    #expect(describe(session.clientData(bytes("abc"))) == ["backend: abc"])
    #expect(describe(session.backendData(bytes(okResponse))).count == 2)
}

@Test func connectionCloseEndsAfterTheResponse() {
    var session = newSession()
    _ = session.clientData(bytes("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"))
    _ = session.backendConnected()
    #expect(describe(session.backendData(bytes(okResponse))).suffix(2) == ["close backend", "close client"])
}

@Test func headOfAResponseToHEADHasNoBody() {
    var session = newSession()
    _ = session.clientData(bytes("HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n"))
    _ = session.backendConnected()
    #expect(describe(session.backendData(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"))).count == 1)
    #expect(describe(session.clientData(bytes("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"))) == ["route a"])
}
