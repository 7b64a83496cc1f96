import Testing
import ZnetdConfig

// Each case adds one line (line 5, indented 4) to a valid service `web`; see `webService`.
@Test(arguments: [
    ("connect_timeout: 0", "test.yaml:5:22: services.web.connect_timeout: "
        + "expected a duration greater than zero, such as 500ms, 2s or 1m; found '0'"),
    ("connect_timeout: ten", "test.yaml:5:22: services.web.connect_timeout: "
        + "expected a duration greater than zero, such as 500ms, 2s or 1m; found 'ten'"),
    ("idle_timeout: forever", "test.yaml:5:19: services.web.idle_timeout: "
        + "expected a duration such as 30s or 10m, or infinity; found 'forever'"),
    ("idle_timeout: [1s]", "test.yaml:5:19: services.web.idle_timeout: "
        + "expected a duration such as 30s or 10m, or infinity; found a sequence"),
    ("max_connections: 0", "test.yaml:5:22: services.web.max_connections: "
        + "expected an integer from 1 to 1000000; found '0'"),
    ("max_connections: 1000001", "test.yaml:5:22: services.web.max_connections: "
        + "expected an integer from 1 to 1000000; found '1000001'"),
    ("max_connections: lots", "test.yaml:5:22: services.web.max_connections: "
        + "expected an integer from 1 to 1000000; found 'lots'"),
    ("keepalive: \"true\"", "test.yaml:5:16: services.web.keepalive: expected true, false or a mapping "
        + "such as {idle: 60s, interval: 10s, count: 6}; found the string \"true\" (remove the quotes)"),
    ("keepalive: sometimes", "test.yaml:5:16: services.web.keepalive: expected true, false or a mapping "
        + "such as {idle: 60s, interval: 10s, count: 6}; found 'sometimes'"),
    ("keepalive: [60s]", "test.yaml:5:16: services.web.keepalive: expected true, false or a mapping "
        + "such as {idle: 60s, interval: 10s, count: 6}; found a sequence"),
    ("keepalive: {idle: 1.5s}", "test.yaml:5:23: services.web.keepalive.idle: "
        + "expected whole seconds from 1s to 32767s, such as 60s; found '1.5s'"),
    ("keepalive: {interval: 0s}", "test.yaml:5:27: services.web.keepalive.interval: "
        + "expected whole seconds from 1s to 32767s, such as 60s; found '0s'"),
    ("keepalive: {interval: 32768s}", "test.yaml:5:27: services.web.keepalive.interval: "
        + "expected whole seconds from 1s to 32767s, such as 60s; found '32768s'"),
    ("keepalive: {count: 0}", "test.yaml:5:24: services.web.keepalive.count: "
        + "expected an integer from 1 to 127; found '0'"),
    ("keepalive: {count: 128}", "test.yaml:5:24: services.web.keepalive.count: "
        + "expected an integer from 1 to 127; found '128'"),
    ("keepalive: {intervall: 5s}", "test.yaml:5:17: services.web.keepalive.intervall: "
        + "unknown key 'intervall'; did you mean 'interval'?"),
    ("keepalive: {probes: 5}", "test.yaml:5:17: services.web.keepalive.probes: "
        + "unknown key 'probes'; valid keys are idle, interval, count"),
    ("keepalive: {idle: 5s, idle: 6s}", "test.yaml:5:27: services.web.keepalive.idle: "
        + "duplicate key 'idle', first at line 5"),
    ("log_connections: \"true\"", "test.yaml:5:22: services.web.log_connections: "
        + "expected true or false; found the string \"true\" (remove the quotes)"),
    ("log_connections: 'Off'", "test.yaml:5:22: services.web.log_connections: "
        + "expected true or false; found the string \"Off\" (remove the quotes)"),
    ("log_connections: maybe", "test.yaml:5:22: services.web.log_connections: "
        + "expected true or false; found 'maybe'"),
    ("log_connections: 1", "test.yaml:5:22: services.web.log_connections: expected true or false; found '1'"),
    ("conect_timeout: 2s", "test.yaml:5:5: services.web.conect_timeout: "
        + "unknown key 'conect_timeout'; did you mean 'connect_timeout'?"),
    ("idle: 2s", "test.yaml:5:5: services.web.idle: unknown key 'idle'; did you mean 'idle_timeout'?"),
    ("timeout: 2s", "test.yaml:5:5: services.web.timeout: unknown key 'timeout'; valid keys are listen, routes, target, "
        + "targets, tiers, connect_timeout, idle_timeout, max_connections, keepalive, log_connections, "
        + "backlog, free_bind, reuse_port, allow, deny, "
        + "balance, health, retries, failback_after, failback_force, resolve_interval, proxy_protocol, "
        + "command, shell, environment, working_directory, user, group, launcher, unit, unit_name, "
        + "unit_properties, hooks, ready, wait_after_start, start_timeout, auto_start, stop_after, stop_signal, "
        + "stop_timeout, min_uptime, hand_off, max_pending, start_limit_burst, start_limit_interval"),
    ("listen: \":81\"", "test.yaml:5:5: services.web.listen: duplicate key 'listen', first at line 3"),
])
func rejectsServiceSetting(line: String, problem: String) {
    #expect(problems(webService(line)) == [problem])
}

@Test func rejectsListenAddresses() {
    #expect(problems("""
        services:
          web:
            listen:
              - ":80"
              - "web:81"
              - {a: 1}
              -
            target: "127.0.0.1:9090"
          api:
            listen: example.com:80
            target: "127.0.0.1:9090"
        """) == [
            "test.yaml:5:9: services.web.listen[1]: listen addresses must be IP literals; found hostname 'web'",
            "test.yaml:6:9: services.web.listen[2]: expected an address such as 127.0.0.1:8080; found a mapping",
            "test.yaml:7:8: services.web.listen[3]: expected an address such as 127.0.0.1:8080; found an empty value",
            "test.yaml:10:13: services.api.listen: listen addresses must be IP literals; found hostname 'example.com'",
        ])
}

@Test(arguments: [
    ("[]", "expected an address such as 127.0.0.1:8080, or a list of addresses; found an empty list"),
    ("{ip: 1.2.3.4}", "expected an address such as 127.0.0.1:8080, or a list of addresses; found a mapping"),
    ("''", "expected HOST:PORT, [IPV6]:PORT, :PORT, unix:/PATH or interface:NAME:PORT; found ''"),
    ("'::1:80'", "IPv6 addresses need brackets; write '[::1]:80'"),
])
func rejectsListenValue(value: String, message: String) {
    let yaml = "services:\n  web:\n    listen: \(value)\n    target: \"h:1\"\n"
    #expect(problems(yaml) == ["test.yaml:3:13: services.web.listen: \(message)"])
}

@Test(arguments: [
    ("[a:1, b:2]", "expected one address such as 127.0.0.1:9090; found a sequence"),
    ("\":9090\"", "a target needs a host, such as 127.0.0.1:9090; found ':9090'"),
    ("db_1:5432", "'db_1' is not a valid hostname: use letters, digits, '-' and '.'"),
])
func rejectsTargetValue(value: String, message: String) {
    let yaml = "services:\n  web:\n    listen: \":80\"\n    target: \(value)\n"
    #expect(problems(yaml) == ["test.yaml:4:13: services.web.target: \(message)"])
}

@Test(arguments: [
    ("-web", "invalid service name '-web': use letters, digits, '_', '.' and '-', starting with a letter or digit"),
    ("we b", "invalid service name 'we b': use letters, digits, '_', '.' and '-', starting with a letter or digit"),
    ("web/1", "invalid service name 'web/1': use letters, digits, '_', '.' and '-', starting with a letter or digit"),
    ("wéb", "invalid service name 'wéb': use letters, digits, '_', '.' and '-', starting with a letter or digit"),
    (String(repeating: "a", count: 65),
     "service name '\(String(repeating: "a", count: 65))' is 65 characters long; the limit is 64"),
])
func rejectsServiceName(name: String, message: String) {
    let yaml = "services:\n  \"\(name)\": {listen: \":80\", target: \"h:1\"}\n"
    #expect(problems(yaml) == ["test.yaml:2:3: services.\(name): \(message)"])
}

@Test(arguments: ["web", "Web-1", "9", "a.b_c-d", String(repeating: "a", count: 64)])
func acceptsServiceName(name: String) throws {
    let yaml = "services:\n  \(name): {listen: \":80\", target: \"h:1\"}\n"
    #expect(try ConfigLoader.parse(yaml: yaml, file: "test.yaml").services.map(\.name) == [name])
}

@Test func reportsMissingListenAndTarget() {
    #expect(problems("""
        services:
          web:
            target: "127.0.0.1:9090"
          api:
            listen: ":81"
          empty:
        """) == [
            "test.yaml:2:3: services.web: missing required key 'listen' (or 'routes'), such as listen: \"127.0.0.1:8080\"",
            "test.yaml:4:3: services.api: missing required key 'target', such as target: \"127.0.0.1:9090\"",
            "test.yaml:6:3: services.empty: missing required key 'listen' (or 'routes'), such as listen: \"127.0.0.1:8080\"",
            "test.yaml:6:3: services.empty: missing required key 'target', such as target: \"127.0.0.1:9090\"",
        ])
}

@Test func rejectsServiceThatIsNotAMapping() {
    #expect(problems("services:\n  web: 8080\n") == ["test.yaml:2:8: services.web: expected a mapping; found '8080'"])
}

@Test func pointsAtServiceKeysIndentedTooLittle() {
    #expect(problems("""
        services:
          web:
          listen: ":80"
        """) == [
            "test.yaml:2:3: services.web: missing required key 'listen' (or 'routes'), such as listen: \"127.0.0.1:8080\"",
            "test.yaml:2:3: services.web: missing required key 'target', such as target: \"127.0.0.1:9090\"",
            "test.yaml:3:11: services.listen: expected a mapping; found ':80' (indent 'listen' under its service's name)",
        ])
}

@Test func rejectsKeysThatAreNotScalars() {
    #expect(problems("""
        services:
          ? [a, b]
          : {listen: ":80", target: "h:1"}
        """) == ["test.yaml:2:5: services: expected a key name; found a sequence as a key"])
}

@Test func rejectsServiceWrittenTwiceInOneFile() {
    #expect(problems("""
        services:
          web: {listen: ":80", target: "h:1"}
          web: {listen: ":81", target: "h:1"}
        """) == ["test.yaml:3:3: services.web: duplicate key 'web', first at line 2"])
}

@Test func collectsEveryProblemInFileOrder() {
    #expect(problems("""
        threads: 0
        services:
          b:
            listen: ":80"
            target: "h:1"
            max_connections: 0
          a:
            listen: "127.0.0.1:80"
            target: ":1"
        drain_timeout: x
        """) == [
            "test.yaml:1:10: threads: expected auto or an integer from 1 to 256; found '0'",
            "test.yaml:6:22: services.b.max_connections: expected an integer from 1 to 1000000; found '0'",
            "test.yaml:8:13: services.a.listen: listen address '127.0.0.1:80' conflicts with ':80' "
                + "of service 'b' at test.yaml:4:13",
            "test.yaml:9:13: services.a.target: a target needs a host, such as 127.0.0.1:1; found ':1'",
            "test.yaml:10:16: drain_timeout: expected a duration such as 500ms, 10s or 5m; found 'x'",
        ])
}

@Test func readsSocketOptionsAndClientLists() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        defaults:
          backlog: 128
          deny: any
        services:
          web:
            listen: ":8080"
            target: "127.0.0.1:9090"
            free_bind: yes
            reuse_port: true
            allow: [localhost, "10.1.2.3/16", "2001:DB8::7/32", "192.0.2.1"]
          api:
            listen: ":8081"
            target: "127.0.0.1:9091"
            backlog: 65535
            deny: []
        """, file: "test.yaml")
    let web = try #require(configuration.service(named: "web"))
    #expect(web.socketOptions == SocketOptions(backlog: 128, freeBind: true, reusePort: true))
    // Host bits are cleared, addresses written canonically.
    #expect(web.clientAccess.allow.map(\.description) == ["localhost", "10.1.0.0/16", "2001:db8::/32", "192.0.2.1"])
    #expect(web.clientAccess.deny.map(\.description) == ["any"])
    let api = try #require(configuration.service(named: "api"))
    #expect(api.socketOptions == SocketOptions(backlog: 65535))
    #expect(api.clientAccess.isEmpty)
}

@Test(arguments: [
    ("backlog: 0", "test.yaml:5:14: services.web.backlog: expected an integer from 1 to 65535; found '0'"),
    ("free_bind: maybe", "test.yaml:5:16: services.web.free_bind: expected true or false; found 'maybe'"),
    ("allow: 10.0.0.0/33",
     "test.yaml:5:12: services.web.allow: expected an IP address, ADDRESS/PREFIXLENGTH, any, localhost, link-local or multicast; found '10.0.0.0/33'"),
    ("deny: [any, example.com]",
     "test.yaml:5:17: services.web.deny[1]: expected an IP address, ADDRESS/PREFIXLENGTH, any, localhost, link-local or multicast; found 'example.com'"),
    ("deny: {a: 1}",
     "test.yaml:5:11: services.web.deny: expected an IP address, ADDRESS/PREFIXLENGTH, any, localhost, link-local or multicast, or a list of them; found a mapping"),
])
func rejectsSocketOption(line: String, problem: String) {
    #expect(problems(webService(line)) == [problem])
}

@Test func clientAccessFollowsSystemdsRule() throws {
    func access(allow: [String], deny: [String]) -> ClientAccess {
        ClientAccess(allow: allow.compactMap(AddressPattern.init), deny: deny.compactMap(AddressPattern.init))
    }
    let v4: (String) -> [UInt8] = { $0.split(separator: ".").map { UInt8($0)! } }
    // Allow wins over deny; anything not denied is allowed.
    let lan = access(allow: ["10.0.0.0/8", "localhost"], deny: ["any"])
    #expect(lan.admits(v4("10.200.1.1")))
    #expect(lan.admits(v4("127.0.0.1")))
    #expect(!lan.admits(v4("192.168.1.1")))
    let ipv6Loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]
    #expect(lan.admits(ipv6Loopback))
    // An IPv4-mapped IPv6 client (a dual-stack listener) is judged as IPv4.
    let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF, 192, 168, 1, 1]
    #expect(!lan.admits(mapped))
    #expect(lan.admits(Array(repeating: 0, count: 10) + [0xFF, 0xFF, 10, 0, 0, 1]))
    let blocklist = access(allow: [], deny: ["203.0.113.0/25"])
    #expect(!blocklist.admits(v4("203.0.113.127")))
    #expect(blocklist.admits(v4("203.0.113.128")))
    #expect(access(allow: [], deny: []).admits(v4("1.2.3.4")))
    // Prefix lengths that are not whole bytes.
    let odd = access(allow: [], deny: ["172.16.0.0/12"])
    #expect(!odd.admits(v4("172.31.255.255")))
    #expect(odd.admits(v4("172.32.0.0")))
    #expect(AddressPattern("10.0.0.0/x") == nil)
    #expect(AddressPattern("10.0.0.0/-1") == nil)
    #expect(AddressPattern("fe80::1%eth0") == nil)
}
