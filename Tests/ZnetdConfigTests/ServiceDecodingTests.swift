import Testing
import ZnetdConfig

@Test func readsEverySetting() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        services:
          web:
            listen: ["127.0.0.1:8080", "[::1]:8080", "unix:/run/web.sock", "interface:eth0:9000"]
            target: backend.internal:9090
            connect_timeout: 2s
            idle_timeout: 10m
            max_connections: 100
            keepalive: {idle: 30s}
            log_connections: yes
        """, file: "test.yaml")
    #expect(configuration.services == [
        ServiceConfig(
            name: "web",
            listen: [
                .inet(host: "127.0.0.1", port: 8080), .inet(host: "::1", port: 8080),
                .unix(path: "/run/web.sock"), .interface(name: "eth0", port: 9000),
            ],
            target: .inet(host: "backend.internal", port: 9090),
            connectTimeout: .seconds(2),
            idleTimeout: .seconds(600),
            maxConnections: 100,
            keepalive: Keepalive(idle: .seconds(30), interval: .seconds(10), count: 6),
            logConnections: true,
            location: SourceLocation(file: "test.yaml", line: 2, column: 3))
    ])
}

@Test func fillsInBuiltInDefaults() throws {
    let configuration = try ConfigLoader.parse(yaml: webService(), file: "test.yaml")
    let web = try #require(configuration.service(named: "web"))
    #expect(web.sameSettings(as: ServiceConfig(
        name: "web", listen: [.inet(host: "127.0.0.1", port: 8080)], target: .inet(host: "127.0.0.1", port: 9090),
        connectTimeout: .seconds(5), idleTimeout: nil, maxConnections: 4096, keepalive: nil, logConnections: false)))
}

@Test(arguments: [("0", nil), ("0s", nil), ("infinity", nil), ("90", .seconds(90)), ("1m 30s", .seconds(90))]
    as [(String, Duration?)])
func readsIdleTimeout(text: String, idleTimeout: Duration?) throws {
    let configuration = try ConfigLoader.parse(yaml: webService("idle_timeout: \(text)"), file: "test.yaml")
    #expect(configuration.services.first?.idleTimeout == idleTimeout)
}

@Test(arguments: [
    ("true", Keepalive.standard), ("on", .standard), ("false", nil), ("Off", nil), ("{}", .standard),
    ("{count: 9}", Keepalive(idle: .seconds(60), interval: .seconds(10), count: 9)),
    ("{idle: 2m, interval: 1s, count: 1}", Keepalive(idle: .seconds(120), interval: .seconds(1), count: 1)),
] as [(String, Keepalive?)])
func readsKeepalive(text: String, keepalive: Keepalive?) throws {
    let configuration = try ConfigLoader.parse(yaml: webService("keepalive: \(text)"), file: "test.yaml")
    #expect(configuration.services.first?.keepalive == keepalive)
}

@Test(arguments: [
    ("true", true), ("True", true), ("YES", true), ("on", true), ("false", false), ("no", false), ("OFF", false),
])
func readsBoolean(text: String, value: Bool) throws {
    let configuration = try ConfigLoader.parse(yaml: webService("log_connections: \(text)"), file: "test.yaml")
    #expect(configuration.services.first?.logConnections == value)
}

@Test func appliesDefaultsUnlessTheServiceSetsTheKey() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        defaults:
          connect_timeout: 2s
          idle_timeout: 1h
          keepalive: true
          log_connections: true
        services:
          a: {listen: ":1", target: "h:1"}
          b: {listen: ":2", target: "h:2", connect_timeout: 7s, idle_timeout: infinity, keepalive: false}
        """, file: "test.yaml")
    let a = try #require(configuration.service(named: "a"))
    let b = try #require(configuration.service(named: "b"))
    #expect(a.connectTimeout == .seconds(2))
    #expect(a.idleTimeout == .seconds(3600))
    #expect(a.keepalive == .standard)
    #expect(a.logConnections)
    #expect(a.maxConnections == 4096)
    #expect(b.connectTimeout == .seconds(7))
    #expect(b.idleTimeout == nil)
    #expect(b.keepalive == nil)
    #expect(b.logConnections)
}

@Test func sortsServicesByName() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        services:
          zeta: {listen: ":1", target: "h:1"}
          Alpha: {listen: ":2", target: "h:2"}
          alpha: {listen: ":3", target: "h:3"}
        """, file: "test.yaml")
    #expect(configuration.services.map(\.name) == ["Alpha", "alpha", "zeta"])
    #expect(configuration.service(named: "zeta")?.location == SourceLocation(file: "test.yaml", line: 2, column: 3))
}
