import Testing
import ZnetdConfig

@Test func readsTopLevelSettings() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        threads: 4
        drain_timeout: 1m30s
        pipe_size: 64KiB
        """, file: "test.yaml")
    #expect(configuration == Configuration(threads: 4, drainTimeout: .seconds(90), pipeSize: 65536))
}

@Test func emptyConfigurationHasDefaults() throws {
    let configuration = try ConfigLoader.parse(yaml: "", file: "test.yaml")
    #expect(configuration == Configuration(services: [], threads: nil, drainTimeout: .seconds(30), pipeSize: 1 << 20))
}

@Test(arguments: [("auto", nil), ("1", 1), ("256", 256), ("\"8\"", 8)] as [(String, Int?)])
func readsThreads(text: String, threads: Int?) throws {
    #expect(try ConfigLoader.parse(yaml: "threads: \(text)", file: "test.yaml").threads == threads)
}

@Test(arguments: [
    ("threads: 0", "test.yaml:1:10: threads: expected auto or an integer from 1 to 256; found '0'"),
    ("threads: 257", "test.yaml:1:10: threads: expected auto or an integer from 1 to 256; found '257'"),
    ("threads: two", "test.yaml:1:10: threads: expected auto or an integer from 1 to 256; found 'two'"),
    ("threads: 2.5", "test.yaml:1:10: threads: expected auto or an integer from 1 to 256; found '2.5'"),
    ("threads:", "test.yaml:1:9: threads: expected auto or an integer from 1 to 256; found an empty value"),
    ("threads: [1]", "test.yaml:1:10: threads: expected auto or an integer from 1 to 256; found a sequence"),
    ("drain_timeout: ten",
     "test.yaml:1:16: drain_timeout: expected a duration such as 500ms, 10s or 5m; found 'ten'"),
    ("drain_timeout: infinity",
     "test.yaml:1:16: drain_timeout: expected a duration such as 500ms, 10s or 5m; found 'infinity'"),
    ("drain_timeout: {s: 1}",
     "test.yaml:1:16: drain_timeout: expected a duration such as 500ms, 10s or 5m; found a mapping"),
    ("pipe_size: 1KiB",
     "test.yaml:1:12: pipe_size: expected a size from 4KiB to 64MiB, such as 65536, 64KiB or 1MiB; found '1KiB'"),
    ("pipe_size: 65MiB",
     "test.yaml:1:12: pipe_size: expected a size from 4KiB to 64MiB, such as 65536, 64KiB or 1MiB; found '65MiB'"),
    ("unit_layout: per_service",
     "test.yaml:1:14: unit_layout: expected per-service or shared; found 'per_service'"),
    ("pipe_size: 1GB",
     "test.yaml:1:12: pipe_size: expected a size from 4KiB to 64MiB, such as 65536, 64KiB or 1MiB; found '1GB'"),
])
func rejectsTopLevelValue(yaml: String, problem: String) {
    #expect(problems(yaml) == [problem])
}

@Test func readsUnitLayout() throws {
    #expect(try ConfigLoader.parse(yaml: "", file: "test.yaml").unitLayout == .perService)
    #expect(try ConfigLoader.parse(yaml: "unit_layout: shared", file: "test.yaml").unitLayout == .shared)
    #expect(try ConfigLoader.parse(yaml: "unit_layout: per-service", file: "test.yaml").unitLayout == .perService)
}

@Test func acceptsPipeSizeLimits() throws {
    #expect(try ConfigLoader.parse(yaml: "pipe_size: 4096", file: "test.yaml").pipeSize == 4096)
    #expect(try ConfigLoader.parse(yaml: "pipe_size: 64M", file: "test.yaml").pipeSize == 64 << 20)
}

@Test(arguments: [
    ("thread: 2", "test.yaml:1:1: thread: unknown key 'thread'; did you mean 'threads'?"),
    ("drain: 5s", "test.yaml:1:1: drain: unknown key 'drain'; did you mean 'drain_timeout'?"),
    ("service: {}", "test.yaml:1:1: service: unknown key 'service'; did you mean 'services'?"),
    ("version: 1",
     "test.yaml:1:1: version: unknown key 'version'; valid keys are threads, drain_timeout, pipe_size, unit_layout, control, metrics_listen, defaults, listeners, services"),
    ("listen: \":80\"",
     "test.yaml:1:1: listen: unknown top-level key 'listen'; service settings go under services.NAME (or defaults for every service)"),
    ("- threads: 2", "test.yaml:1:1: expected a mapping; found a sequence"),
    ("just text", "test.yaml:1:1: expected a mapping; found 'just text'"),
    ("services: [web]", "test.yaml:1:11: services: expected a mapping; found a sequence"),
    ("defaults: 5s", "test.yaml:1:11: defaults: expected a mapping; found '5s'"),
])
func rejectsTopLevelStructure(yaml: String, problem: String) {
    #expect(problems(yaml) == [problem])
}

@Test func emptyServicesAndDefaultsAreEmptyMappings() throws {
    let configuration = try ConfigLoader.parse(yaml: "defaults:\nservices: ~\n", file: "test.yaml")
    #expect(configuration.services.isEmpty)
}

@Test func rejectsDefaultsKeys() {
    #expect(problems("""
        defaults:
          listen: ":80"
          target: "127.0.0.1:9090"
          conect_timeout: 2s
          port: 80
        """) == [
            "test.yaml:2:3: defaults.listen: 'listen' cannot be set in defaults; every service needs its own",
            "test.yaml:3:3: defaults.target: 'target' cannot be set in defaults; every service needs its own",
            "test.yaml:4:3: defaults.conect_timeout: unknown key 'conect_timeout'; did you mean 'connect_timeout'?",
            "test.yaml:5:3: defaults.port: unknown key 'port'; valid keys are connect_timeout, idle_timeout, "
                + "max_connections, keepalive, log_connections, backlog, free_bind, reuse_port, allow, deny, "
                + "balance, health, retries, failback_after, "
                + "failback_force, resolve_interval, proxy_protocol, environment, working_directory, user, group, "
                + "unit_properties, ready, wait_after_start, start_timeout, auto_start, stop_after, stop_signal, "
                + "stop_timeout, min_uptime, hand_off, max_pending, start_limit_burst, start_limit_interval",
        ])
}

@Test func rejectsDefaultsValuesOnce() {
    #expect(problems("""
        defaults:
          max_connections: 0
        services:
          a: {listen: ":1", target: "h:1"}
          b: {listen: ":2", target: "h:2"}
        """) == ["test.yaml:2:20: defaults.max_connections: expected an integer from 1 to 1000000; found '0'"])
}
