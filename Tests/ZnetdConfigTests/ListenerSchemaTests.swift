import Testing
import ZnetdConfig

/// A listener `web` on :8080 (lines 1-4) and services written from line 5 on.
private func withListener(mode: String = "http", _ services: String) -> String {
    """
    listeners:
      web:
        listen: ":8080"
        mode: \(mode)
    services:

    """ + services
}

@Test func decodesListenersAndRoutes() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        listeners:
          web:
            listen: [":80", "127.0.0.1:8443"]
            tls:
              certificates:
                - {certificate: /etc/znetd/tls/site.pem, key: "credential:site.key"}
                - {certificate: "credential:other.pem", key: /etc/znetd/tls/other.key}
            forwarded: forwarded
            backlog: 128
            allow: localhost
          sni: {listen: ":443", mode: tcp}
        services:
          blog:
            routes:
              - {listener: web, host: Blog.Example.COM., path: /blog}
              - {listener: sni, host: "*.example.com"}
            target: "127.0.0.1:9001"
          api:
            listen: "127.0.0.1:7000"
            routes: [{listener: web, host: "*", path: /api/}]
            target: "127.0.0.1:9002"
        """, file: "test.yaml")
    #expect(configuration.listeners.map(\.name) == ["sni", "web"])
    let web = try #require(configuration.listener(named: "web"))
    #expect(web.listen == [.inet(host: nil, port: 80), .inet(host: "127.0.0.1", port: 8443)])
    #expect(web.mode == .http)
    #expect(web.forwarded == .forwarded)
    #expect(web.socketOptions.backlog == 128)
    #expect(web.clientAccess.allow.map(\.description) == ["localhost"])
    #expect(web.tls?.certificates == [
        TLSCertificateFiles(certificate: .file("/etc/znetd/tls/site.pem"), key: .credential("site.key")),
        TLSCertificateFiles(certificate: .credential("other.pem"), key: .file("/etc/znetd/tls/other.key")),
    ])
    #expect(configuration.listener(named: "sni")?.mode == .tcp)
    #expect(configuration.listener(named: "sni")?.forwarded == .xForwarded)
    let blog = try #require(configuration.service(named: "blog"))
    #expect(blog.listen.isEmpty)
    #expect(blog.routes == [
        ServiceRoute(listener: "web", host: "blog.example.com", path: "/blog"),
        ServiceRoute(listener: "sni", host: "*.example.com"),
    ])
    #expect(configuration.service(named: "api")?.routes == [ServiceRoute(listener: "web", host: nil, path: "/api/")])
    #expect(configuration.services(routedThrough: "web").map(\.name) == ["api", "blog"])
}

@Test func printsListenersAndRoutesThatReadBack() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        listeners:
          web:
            listen: ":80"
            tls: {certificates: [{certificate: /a.pem, key: "credential:a.key"}]}
        services:
          blog:
            routes: [{listener: web, host: blog.example.com, path: /blog}, {listener: web}]
            target: "127.0.0.1:9001"
        """, file: "test.yaml")
    let printed = configuration.normalizedYAML()
    #expect(printed.contains("""
        listeners:
          web:
            listen:
              - ":80"
            mode: http
            forwarded: x-forwarded
            tls:
              certificates:
                - certificate: "/a.pem"
                  key: "credential:a.key"
        """))
    #expect(printed.contains("""
            routes:
              - {listener: web, host: "blog.example.com", path: "/blog"}
              - {listener: web}
            target: "127.0.0.1:9001"
        """))
    let again = try ConfigLoader.parse(yaml: printed, file: "printed.yaml")
    #expect(again.withoutLocations.listenersWithoutLocations == configuration.withoutLocations.listenersWithoutLocations)
}

@Test func aServiceNeedsListenOrRoutes() {
    #expect(problems("""
        services:
          web: {target: "127.0.0.1:1"}
        """) == [
            "test.yaml:2:3: services.web: missing required key 'listen' (or 'routes'), such as listen: \"127.0.0.1:8080\"",
        ])
}

@Test func aListenerWithoutRoutesIsValid() throws {
    // Routes may be registered at run time.
    let configuration = try ConfigLoader.parse(yaml: withListener(""), file: "test.yaml")
    #expect(configuration.listeners.count == 1)
}

@Test func rejectsRoutesToUnknownListeners() {
    #expect(problems(withListener("""
          blog:
            routes: [{listener: wbe}]
            target: "127.0.0.1:1"
        """)) == [
            "test.yaml:7:14: services.blog.routes[0].listener: no listener named 'wbe'; listeners: web",
        ])
}

@Test func rejectsAPathOnATCPListener() {
    #expect(problems(withListener(mode: "tcp", """
          blog:
            routes: [{listener: web, host: a.example.com, path: /blog}]
            target: "127.0.0.1:1"
        """)) == [
            "test.yaml:7:57: services.blog.routes[0].path: listener 'web' is a tcp listener, which routes by "
                + "TLS server name only; remove 'path' or use an http listener",
        ])
}

@Test func rejectsTheSameRouteTwice() {
    #expect(problems(withListener("""
          a:
            routes: [{listener: web, host: a.example.com}]
            target: "127.0.0.1:1"
          b:
            routes:
              - {listener: web, host: A.example.com, path: /}
            target: "127.0.0.1:2"
        """)) == [
            "test.yaml:11:9: services.b.routes[0]: route 'web a.example.com/' is also a route of service 'a' "
                + "at test.yaml:7:14; each host and path of a listener goes to one service",
        ])
}

@Test func rejectsTLSOnATCPListener() {
    #expect(problems("""
        listeners:
          sni:
            listen: ":443"
            mode: tcp
            tls: {certificates: [{certificate: /a.pem, key: /a.key}]}
        """) == [
            "test.yaml:5:5: listeners.sni.tls: 'tls' needs mode: http; a tcp listener routes TLS by server name without terminating it",
        ])
}

@Test func rejectsANameOfBothAListenerAndAService() {
    #expect(problems("""
        listeners:
          web: {listen: ":80"}
        services:
          web: {listen: ":81", target: "127.0.0.1:1"}
        """) == [
            "test.yaml:2:3: listeners.web: listener 'web' has the name of service 'web' at test.yaml:4:3; "
                + "listeners and services share one namespace (unit and socket names)",
        ])
}

@Test func rejectsListenAddressesSharedWithServices() {
    #expect(problems("""
        listeners:
          web: {listen: ":80"}
        services:
          a: {listen: "127.0.0.1:80", target: "127.0.0.1:1"}
        """) == [
            "test.yaml:4:15: services.a.listen: listen address '127.0.0.1:80' conflicts with ':80' "
                + "of listener 'web' at test.yaml:2:17",
        ])
}

@Test func rejectsBadListenerValues() {
    #expect(problems("""
        listeners:
          web:
            mode: udp
            forwarded: maybe
            tls: {certificates: [{certificate: relative.pem}]}
          -x: {listen: ":81"}
        services:
          a:
            routes: [{listener: web, host: "exa mple.com", path: blog}, {host: a.com}, web]
            target: "127.0.0.1:1"
        """) == [
            "test.yaml:2:3: listeners.web: missing required key 'listen', such as listen: \":80\"",
            "test.yaml:3:11: listeners.web.mode: expected http or tcp; found 'udp'",
            "test.yaml:4:16: listeners.web.forwarded: expected x-forwarded, forwarded or none; found 'maybe'",
            "test.yaml:5:26: listeners.web.tls.certificates[0]: missing required key 'key'",
            "test.yaml:5:40: listeners.web.tls.certificates[0].certificate: expected an absolute path or credential:NAME; found 'relative.pem'",
            "test.yaml:6:3: listeners.-x: invalid listener name '-x': use letters, digits, '_', '.' and '-', starting with a letter or digit",
            "test.yaml:9:36: services.a.routes[0].host: expected a host name such as example.com, or *.example.com; found 'exa mple.com'",
            "test.yaml:9:58: services.a.routes[0].path: expected a path starting with '/', such as /blog; found 'blog'",
            "test.yaml:9:65: services.a.routes[1]: missing required key 'listener', such as listener: web",
            "test.yaml:9:80: services.a.routes[2]: expected a mapping such as {listener: web, host: blog.example.com}; found 'web'",
        ])
}

@Test func rejectsHandOffWithRoutes() {
    #expect(problems(withListener("""
          a:
            routes: [{listener: web}]
            target: "127.0.0.1:1"
            command: [/usr/bin/app]
            hand_off: true
        """)).contains { $0.contains("hand_off cannot be used with 'routes'") })
}

@Test func listsTheListenerAndRouteKeys() {
    let paths = ConfigSchema.keyPaths
    for path in ["listeners", "listeners.NAME.listen", "listeners.NAME.mode", "listeners.NAME.forwarded",
                 "listeners.NAME.tls", "listeners.NAME.tls.certificates",
                 "listeners.NAME.tls.certificates[].certificate", "listeners.NAME.tls.certificates[].key",
                 "listeners.NAME.backlog", "services.NAME.routes", "services.NAME.routes[].listener",
                 "services.NAME.routes[].host", "services.NAME.routes[].path"] {
        #expect(paths.contains(path), "\(path)")
    }
}

extension Configuration {
    fileprivate var listenersWithoutLocations: [ListenerConfig] {
        listeners.map { var copy = $0; copy.location = nil; return copy }
    }
}
