import Testing
@testable import ZnetdHTTP

private typealias Route = HTTPRouteTable.Route

private func route(_ host: String, _ path: String = "/", _ service: String) -> Route {
    Route(host: HTTPRouteTable.HostPattern(host)!, pathPrefix: path, service: service)
}

private let table = HTTPRouteTable([
    route("example.com", "/", "site"),
    route("example.com", "/api", "api"),
    route("example.com", "/api/v2/", "api2"),
    route("*.example.com", "/", "wildcard"),
    route("*.eu.example.com", "/", "eu"),
    route("static.example.com", "/img", "images"),
    route("*", "/.well-known/acme-challenge", "acme"),
    route("*", "/", "fallback"),
])

@Test(arguments: [
    ("example.com", "/", "site"),
    ("example.com", "/index.html", "site"),
    ("example.com", "/api", "api"),
    ("example.com", "/api/users", "api"),
    ("example.com", "/apix", "site"),           // segment boundary
    ("example.com", "/api/v2/x", "api2"),
    ("example.com", "/api/v2", "api"),          // "/api/v2/" needs the slash
    ("www.example.com", "/", "wildcard"),       // longest suffix
    ("a.b.example.com", "/x", "wildcard"),
    ("x.eu.example.com", "/", "eu"),            // a longer suffix wins
    ("static.example.com", "/img/a.png", "images"),
    ("static.example.com", "/css", "wildcard"), // exact host's paths miss: the next host that matches
    ("other.org", "/", "fallback"),
    ("other.org", "/.well-known/acme-challenge/t", "acme"),
    ("example.com", "/public/../api/x", "api"),  // dot segments removed before matching
    ("example.com", "/api/%2e%2e/admin", "site"),
])
func routesByHostThenPath(host: String, path: String, service: String) {
    #expect(table.service(host: host, path: path) == service)
}

@Test func noHostUsesTheAnyHostRoutes() {
    #expect(table.service(host: nil, path: "/") == "fallback")
    let strict = HTTPRouteTable([route("example.com", "/", "site")])
    #expect(strict.service(host: nil, path: "/") == nil)
    #expect(strict.service(host: "example.org", path: "/") == nil)
    #expect(strict.service(host: "www.example.com", path: "/") == nil)  // exact means exact
}

@Test func hostPatterns() {
    #expect(HTTPRouteTable.HostPattern("Example.COM") == .exact("example.com"))
    #expect(HTTPRouteTable.HostPattern("*.example.com") == .suffix(".example.com"))
    #expect(HTTPRouteTable.HostPattern("*") == .any)
    #expect(HTTPRouteTable.HostPattern("bad host") == nil)
    #expect(HTTPRouteTable.HostPattern("*.") == nil)
    #expect(HTTPRouteTable.HostPattern("-a.com") == nil)
}

@Test func dotSegments() {
    #expect(removingDotSegments("/a/b/../c/./d") == "/a/c/d")
    #expect(removingDotSegments("/../../x") == "/x")
    #expect(removingDotSegments("/a/..") == "/")
    #expect(removingDotSegments("/a/%2E%2e/b") == "/b")
    #expect(removingDotSegments("/") == "/")
}
