import Testing
import ZnetdConfig

/// A service `web` listening on 127.0.0.1:8080, with `lines` as its further keys from line 4
/// (indented 4): the backends are for the test to write.
func balancedService(_ lines: String...) -> String {
    """
    services:
      web:
        listen: "127.0.0.1:8080"

    """ + lines.map { "    " + $0 + "\n" }.joined()
}

@Test func targetsListWithEverySetting() throws {
    let yaml = balancedService(
        "targets:",
        "  - \"10.0.0.1:80\"",
        "  - {address: \"backend.test:80\", weight: 3, max_connections: 10, tier: 1}",
        "  - {address: \"unix:/run/b.sock\", disabled: true}",
        "balance: least-connections",
        "health: {check: http GET /healthz expect 2xx, interval: 500ms, timeout: 200ms, rise: 1, fall: 2}",
        "retries: 1",
        "failback_after: 1m",
        "failback_force: true",
        "resolve_interval: 5s",
        "proxy_protocol: v2")
    let service = try #require(try ConfigLoader.parse(yaml: yaml, file: "test.yaml").service(named: "web"))
    #expect(service.targets == [
        BackendTarget(address: .inet(host: "10.0.0.1", port: 80)),
        BackendTarget(address: .inet(host: "backend.test", port: 80), weight: 3, maxConnections: 10, tier: 1),
        BackendTarget(address: .unix(path: "/run/b.sock"), disabled: true),
    ])
    #expect(service.target == .inet(host: "10.0.0.1", port: 80))
    #expect(service.balancing == Balancing(
        policy: .leastConnections,
        health: HealthCheck(probe: .http(path: "/healthz", expect: "2xx"), interval: .milliseconds(500),
                            timeout: .milliseconds(200), rise: 1, fall: 2),
        retries: 1, failbackAfter: .seconds(60), failbackForce: true, resolveInterval: .seconds(5),
        proxyProtocol: .v2))
}

@Test func singleTargetIsATargetsListOfOne() throws {
    let service = try #require(try ConfigLoader.parse(yaml: webService(), file: "test.yaml").service(named: "web"))
    #expect(service.targets == [BackendTarget(address: .inet(host: "127.0.0.1", port: 9090))])
    #expect(service.balancing == .standard)
    #expect(service.hasSingleTarget)
}

@Test func tiersGiveEachListItsTier() throws {
    let yaml = balancedService(
        "tiers:",
        "  - [\"10.0.0.1:80\", \"10.0.0.2:80\"]",
        "  - [{address: \"10.1.0.1:80\", weight: 2}]")
    let service = try #require(try ConfigLoader.parse(yaml: yaml, file: "test.yaml").service(named: "web"))
    #expect(service.targets.map(\.tier) == [0, 0, 1])
    #expect(service.targets[2].weight == 2)
}

@Test func healthProbeForms() throws {
    for (text, probe) in [
        ("tcp", HealthCheck.Probe.tcp),
        ("exec:/usr/bin/check --quick", .exec(["/usr/bin/check", "--quick"])),
        ("http GET /", .http(path: "/", expect: "2xx")),
        ("http GET /up expect 204", .http(path: "/up", expect: "204")),
    ] {
        let yaml = webService("health: \"\(text)\"")
        let service = try #require(try ConfigLoader.parse(yaml: yaml, file: "test.yaml").service(named: "web"))
        #expect(service.balancing.health == HealthCheck(probe: probe))
    }
}

@Test func balancingKeysComeFromDefaults() throws {
    let yaml = """
        defaults:
          balance: source-hash
          health: tcp
          proxy_protocol: v1
        services:
          web:
            listen: "127.0.0.1:8080"
            targets: ["10.0.0.1:80", "10.0.0.2:80"]
            proxy_protocol: none
        """
    let service = try #require(try ConfigLoader.parse(yaml: yaml, file: "test.yaml").service(named: "web"))
    #expect(service.balancing.policy == .sourceHash)
    #expect(service.balancing.health.probe == .tcp)
    #expect(service.balancing.proxyProtocol == nil)
}

@Test func balancedServicesPrintAndReadBack() throws {
    let yaml = balancedService(
        "tiers: [[\"10.0.0.1:80\", {address: \"[::1]:81\", max_connections: 5}], [\"b.test:80\"]]",
        "health: exec:/usr/bin/check x",
        "retries: all")
    let configuration = try ConfigLoader.parse(yaml: yaml, file: "test.yaml")
    let printed = configuration.normalizedYAML()
    let expected = [
        "    targets:",
        "      - {address: \"10.0.0.1:80\", weight: 1, disabled: false, tier: 0}",
        "      - {address: \"[::1]:81\", weight: 1, max_connections: 5, disabled: false, tier: 0}",
        "      - {address: \"b.test:80\", weight: 1, disabled: false, tier: 1}",
        "    balance: round-robin",
        "    health: {check: \"exec:/usr/bin/check x\", interval: 2s, timeout: 1s, rise: 2, fall: 3}",
        "    retries: all",
        "    failback_after: 10s",
        "    failback_force: false",
        "    resolve_interval: 30s",
        "    proxy_protocol: none",
    ]
    #expect(printed.contains(expected.joined(separator: "\n")))
    let again = try ConfigLoader.parse(yaml: printed, file: "printed.yaml")
    #expect(again.withoutLocations == configuration.withoutLocations)
}

// Each case is the service's backend keys from line 4 (see `balancedService`) and the one problem.
@Test(arguments: [
    (["target: \"10.0.0.1:80\"", "targets: [\"10.0.0.2:80\"]"],
     "test.yaml:5:5: services.web.targets: 'targets' cannot be used with 'target' (line 4); "
        + "write the backends once, as target, targets or tiers"),
    (["targets: [\"10.0.0.2:80\"]", "tiers: [[\"10.0.0.2:80\"]]"],
     "test.yaml:5:5: services.web.tiers: 'tiers' cannot be used with 'targets' (line 4); "
        + "write the backends once, as target, targets or tiers"),
    (["targets: []"],
     "test.yaml:4:14: services.web.targets: expected a list of targets such as "
        + "[\"10.0.0.1:80\", \"10.0.0.2:80\"]; found an empty list"),
    (["targets: \"10.0.0.1:80\""],
     "test.yaml:4:14: services.web.targets: expected a list of targets such as "
        + "[\"10.0.0.1:80\", \"10.0.0.2:80\"]; found '10.0.0.1:80'"),
    (["targets: [\"10.0.0.1\"]"],
     "test.yaml:4:15: services.web.targets[0]: expected HOST:PORT, [IPV6]:PORT or unix:/PATH; found '10.0.0.1'"),
    (["targets: [[\"10.0.0.1:80\"]]"],
     "test.yaml:4:15: services.web.targets[0]: expected an address such as 127.0.0.1:9090 or a mapping such as "
        + "{address: \"127.0.0.1:9090\", weight: 2}; found a sequence"),
    (["targets: [{weight: 2}]"],
     "test.yaml:4:15: services.web.targets[0]: missing required key 'address', such as address: \"127.0.0.1:9090\""),
    (["targets: [{address: \"10.0.0.1:80\", weight: 0}]"],
     "test.yaml:4:48: services.web.targets[0].weight: expected an integer from 1 to 1000; found '0'"),
    (["targets: [{address: \"10.0.0.1:80\", max_connections: 0}]"],
     "test.yaml:4:57: services.web.targets[0].max_connections: expected an integer from 1 to 1000000; found '0'"),
    (["targets: [{address: \"10.0.0.1:80\", tier: 100}]"],
     "test.yaml:4:46: services.web.targets[0].tier: expected an integer from 0 to 99; found '100'"),
    (["targets: [{address: \"10.0.0.1:80\", disabled: maybe}]"],
     "test.yaml:4:50: services.web.targets[0].disabled: expected true or false; found 'maybe'"),
    (["targets: [{address: \"10.0.0.1:80\", wieght: 2}]"],
     "test.yaml:4:40: services.web.targets[0].wieght: unknown key 'wieght'; did you mean 'weight'?"),
    (["targets: [\"10.0.0.1:80\", \"10.0.0.1:80\"]"],
     "test.yaml:4:30: services.web.targets[1]: target '10.0.0.1:80' is listed twice, first at line 4"),
    (["tiers: [[\"10.0.0.1:80\"], []]"],
     "test.yaml:4:30: services.web.tiers[1]: expected tier 1 as a non-empty list of targets; found an empty list"),
    (["tiers: [\"10.0.0.1:80\"]"],
     "test.yaml:4:13: services.web.tiers[0]: expected tier 0 as a non-empty list of targets; found '10.0.0.1:80'"),
    (["tiers: {a: 1}"],
     "test.yaml:4:12: services.web.tiers: expected a list of tiers, each a list of targets, such as "
        + "[[\"10.0.0.1:80\"], [\"10.1.0.1:80\"]]; found a mapping"),
    (["tiers: [[{address: \"10.0.0.1:80\", tier: 1}]]"],
     "test.yaml:4:39: services.web.tiers[0][0].tier: 'tier' cannot be set under tiers; the tier is the list's position"),
    (["tiers: [[\"10.0.0.1:80\"], [\"10.0.0.1:80\"]]"],
     "test.yaml:4:31: services.web.tiers[1][0]: target '10.0.0.1:80' is listed twice, first at line 4"),
])
func rejectsBackends(lines: [String], problem: String) {
    #expect(problems(balancedService(lines: lines)) == [problem])
}

func balancedService(lines: [String]) -> String {
    """
    services:
      web:
        listen: "127.0.0.1:8080"

    """ + lines.map { "    " + $0 + "\n" }.joined()
}

// Each case adds one line (line 5) to the valid service `web` of `webService`.
@Test(arguments: [
    ("balance: fastest", "test.yaml:5:14: services.web.balance: "
        + "expected round-robin, least-connections, random-two-choices or source-hash; found 'fastest'"),
    ("health: ping", "test.yaml:5:13: services.web.health: expected tcp, none, exec: and an absolute path with "
        + "arguments, or http GET /PATH expect 2xx, such as http GET /healthz expect 2xx; found 'ping'"),
    ("health: exec:check", "test.yaml:5:13: services.web.health: expected tcp, none, exec: and an absolute path with "
        + "arguments, or http GET /PATH expect 2xx, such as http GET /healthz expect 2xx; found 'exec:check'"),
    ("health: http GET /x expect 6xx", "test.yaml:5:13: services.web.health: expected tcp, none, exec: and an "
        + "absolute path with arguments, or http GET /PATH expect 2xx, such as http GET /healthz expect 2xx; "
        + "found 'http GET /x expect 6xx'"),
    ("health: http POST /x", "test.yaml:5:13: services.web.health: expected tcp, none, exec: and an "
        + "absolute path with arguments, or http GET /PATH expect 2xx, such as http GET /healthz expect 2xx; "
        + "found 'http POST /x'"),
    ("health: {check: tcp, interval: 0s}", "test.yaml:5:36: services.web.health.interval: "
        + "expected a duration greater than zero, such as 500ms, 2s or 1m; found '0s'"),
    ("health: {timeout: soon}", "test.yaml:5:23: services.web.health.timeout: "
        + "expected a duration greater than zero, such as 500ms, 2s or 1m; found 'soon'"),
    ("health: {rise: 0}", "test.yaml:5:20: services.web.health.rise: expected an integer from 1 to 100; found '0'"),
    ("health: {fall: 101}", "test.yaml:5:20: services.web.health.fall: expected an integer from 1 to 100; found '101'"),
    ("health: {probe: tcp}", "test.yaml:5:14: services.web.health.probe: unknown key 'probe'; "
        + "valid keys are check, interval, timeout, rise, fall"),
    ("retries: -1", "test.yaml:5:14: services.web.retries: expected all or an integer from 0 to 1000; found '-1'"),
    ("failback_after: later", "test.yaml:5:21: services.web.failback_after: "
        + "expected a duration such as 0s, 30s or 5m; found 'later'"),
    ("failback_force: 1", "test.yaml:5:21: services.web.failback_force: expected true or false; found '1'"),
    ("resolve_interval: 500ms", "test.yaml:5:23: services.web.resolve_interval: "
        + "expected a duration of at least 1s, such as 30s or 5m; found '500ms'"),
    ("proxy_protocol: v3", "test.yaml:5:21: services.web.proxy_protocol: expected v1, v2 or none; found 'v3'"),
    ("balanse: round-robin", "test.yaml:5:5: services.web.balanse: unknown key 'balanse'; did you mean 'balance'?"),
])
func rejectsBalancingSetting(line: String, problem: String) {
    #expect(problems(webService(line)) == [problem])
}

@Test func targetsCannotBeADefault() {
    #expect(problems("defaults:\n  targets: [\"10.0.0.1:80\"]\n") == [
        "test.yaml:2:3: defaults.targets: 'targets' cannot be set in defaults; every service needs its own"
    ])
}

@Test func execTargetIsAProgramWithArguments() throws {
    let yaml = balancedService("target: \"exec:/usr/local/bin/route --zone a\"")
    let service = try #require(try ConfigLoader.parse(yaml: yaml, file: "test.yaml").service(named: "web"))
    #expect(service.target == .program(["/usr/local/bin/route", "--zone", "a"]))
    #expect(try ConfigLoader.proxies([":8080 exec:/bin/route"]).services[0].target == .program(["/bin/route"]))
}

@Test(arguments: [
    (["target: \"exec:route\""], "test.yaml:4:13: services.web.target: "
        + "expected exec: and an absolute program path, such as exec:/usr/local/bin/route; found 'exec:route'"),
    (["targets: [\"exec:/bin/route\"]"], "test.yaml:4:15: services.web.targets[0]: "
        + "an exec: destination goes in target:, alone; it cannot be one of several targets"),
    (["target: \"exec:/bin/route\"", "command: [/usr/bin/app]"], "test.yaml:5:5: services.web.command: "
        + "'command' cannot be used with an exec: target; an on-demand backend needs an address to probe"),
])
func rejectsExecTargets(lines: [String], problem: String) {
    #expect(problems(balancedService(lines: lines)) == [problem])
}
