import Testing
import ZnetdConfig

@Test func printsEveryKeyWithDefaultsFilledIn() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        drain_timeout: 90s
        services:
          web:
            listen: ["localhost:8080", "[0::1]:8080", "unix:@web", "interface:eth0:80"]
            target: "backend:9090"
            idle_timeout: 1.5s
            keepalive: {count: 3}
          api:
            listen: ":81"
            target: "[::1]:9091"
            connect_timeout: 250ms
            max_connections: 7
            log_connections: yes
        """, file: "test.yaml")
    #expect(configuration.normalizedYAML() == """
        threads: auto
        drain_timeout: 1m30s
        pipe_size: 1MiB
        unit_layout: per-service
        services:
          api:
            listen:
              - ":81"
            target: "[::1]:9091"
            connect_timeout: 250ms
            idle_timeout: infinity
            max_connections: 7
            keepalive: false
            log_connections: true
            backlog: 4096
            free_bind: false
            reuse_port: false
            allow: []
            deny: []
          web:
            listen:
              - "127.0.0.1:8080"
              - "[::1]:8080"
              - "unix:@web"
              - "interface:eth0:80"
            target: "backend:9090"
            connect_timeout: 5s
            idle_timeout: 1s500ms
            max_connections: 4096
            keepalive: {idle: 60s, interval: 10s, count: 3}
            log_connections: false
            backlog: 4096
            free_bind: false
            reuse_port: false
            allow: []
            deny: []

        """)
}

@Test func printsAnEmptyConfiguration() throws {
    let text = Configuration(threads: 3, pipeSize: 5000).normalizedYAML()
    #expect(text == "threads: 3\ndrain_timeout: 30s\npipe_size: 5000\nunit_layout: per-service\nservices: {}\n")
    #expect(try ConfigLoader.parse(yaml: text, file: "printed.yaml") == Configuration(threads: 3, pipeSize: 5000))
}

@Test func printedConfigurationParsesBackEqual() throws {
    let configuration = Configuration(
        services: [
            ServiceConfig(
                name: "a.b-c_d", listen: [.inet(host: nil, port: 1), .inet(host: "10.0.0.1", port: 65535)],
                target: .unix(path: "/run/odd \"name\" \\ with\ttab, newline\n, bell\u{7}, é, \u{85}, \u{2028}"),
                connectTimeout: .nanoseconds(1500), idleTimeout: .seconds(86_400 + 1),
                maxConnections: 1_000_000, keepalive: Keepalive(idle: .seconds(32767), interval: .seconds(1), count: 127),
                logConnections: true,
                socketOptions: SocketOptions(backlog: 1, freeBind: true, reusePort: true),
                clientAccess: ClientAccess(
                    allow: ["localhost", "10.1.2.0/23", "2001:db8::1"].compactMap(AddressPattern.init),
                    deny: ["any"].compactMap(AddressPattern.init))),
            ServiceConfig(
                name: "z", listen: [.unix(path: "/run/z.sock"), .interface(name: "br-lan", port: 53)],
                target: .inet(host: "::ffff:10.0.0.1", port: 53)),
        ],
        threads: 256, drainTimeout: .zero, pipeSize: 64 << 20)
    let reparsed = try ConfigLoader.parse(yaml: configuration.normalizedYAML(), file: "printed.yaml")
    #expect(reparsed.withoutLocations == configuration.withoutLocations)
    #expect(reparsed.normalizedYAML() == configuration.normalizedYAML())
}

@Test func proxiesPrintAndParseBack() throws {
    let configuration = try ConfigLoader.proxies([":8080 127.0.0.1:9090", "unix:/run/a.sock db:5432"])
    let reparsed = try ConfigLoader.parse(yaml: configuration.normalizedYAML(), file: "printed.yaml")
    #expect(reparsed.withoutLocations == configuration.withoutLocations)
}
