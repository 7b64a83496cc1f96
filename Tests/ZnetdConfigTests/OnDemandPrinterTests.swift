import Testing
import ZnetdConfig

@Test func printsOnDemandKeysAfterTheServiceSettings() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        services:
          app:
            listen: ":8080"
            target: "127.0.0.1:9090"
            command: exec /usr/bin/app --port 9090
            shell: true
            environment: {APP_MODE: demo, LANG: C.UTF-8}
            working_directory: /srv/app
            user: app
            group: app
            ready: exec:/usr/local/bin/is-ready app
            stop_after: 5m
            stop_signal: rtmin+3
          db:
            listen: ":5432"
            target: "127.0.0.1:5433"
            unit: postgresql@15-main.service
          vm:
            listen: ":2222"
            target: "192.168.122.10:22"
            hooks:
              start: ["/usr/local/bin/vm", "start", "app"]
              stop: virsh shutdown app
            user: vm
            hand_off: false
          plain:
            listen: ":1"
            target: "h:1"
        """, file: "test.yaml")
    #expect(configuration.normalizedYAML() == """
        threads: auto
        drain_timeout: 30s
        pipe_size: 1MiB
        unit_layout: per-service
        services:
          app:
            listen:
              - ":8080"
            target: "127.0.0.1:9090"
            connect_timeout: 5s
            idle_timeout: infinity
            max_connections: 4096
            keepalive: false
            log_connections: false
            backlog: 4096
            free_bind: false
            reuse_port: false
            allow: []
            deny: []
            launcher: process
            command: ["/bin/sh", "-c", "exec /usr/bin/app --port 9090"]
            shell: false
            environment: {APP_MODE: "demo", LANG: "C.UTF-8"}
            working_directory: "/srv/app"
            user: "app"
            group: "app"
            ready: "exec:/usr/local/bin/is-ready app"
            wait_after_start: 0s
            start_timeout: 30s
            auto_start: false
            stop_after: 5m
            stop_signal: SIGRTMIN+3
            stop_timeout: 10s
            min_uptime: 0s
            hand_off: false
            max_pending: 1024
            start_limit_burst: 5
            start_limit_interval: 10s
          db:
            listen:
              - ":5432"
            target: "127.0.0.1:5433"
            connect_timeout: 5s
            idle_timeout: infinity
            max_connections: 4096
            keepalive: false
            log_connections: false
            backlog: 4096
            free_bind: false
            reuse_port: false
            allow: []
            deny: []
            launcher: unit
            unit: "postgresql@15-main.service"
            ready: tcp
            wait_after_start: 0s
            start_timeout: 30s
            auto_start: false
            stop_after: infinity
            stop_signal: SIGTERM
            stop_timeout: 10s
            min_uptime: 0s
            hand_off: false
            max_pending: 1024
            start_limit_burst: 5
            start_limit_interval: 10s
          plain:
            listen:
              - ":1"
            target: "h:1"
            connect_timeout: 5s
            idle_timeout: infinity
            max_connections: 4096
            keepalive: false
            log_connections: false
            backlog: 4096
            free_bind: false
            reuse_port: false
            allow: []
            deny: []
          vm:
            listen:
              - ":2222"
            target: "192.168.122.10:22"
            connect_timeout: 5s
            idle_timeout: infinity
            max_connections: 4096
            keepalive: false
            log_connections: false
            backlog: 4096
            free_bind: false
            reuse_port: false
            allow: []
            deny: []
            launcher: hooks
            hooks:
              start: ["/usr/local/bin/vm", "start", "app"]
              stop: ["/bin/sh", "-c", "virsh shutdown app"]
            user: "vm"
            ready: tcp
            wait_after_start: 0s
            start_timeout: 30s
            auto_start: false
            stop_after: infinity
            stop_signal: SIGTERM
            stop_timeout: 10s
            min_uptime: 0s
            hand_off: false
            max_pending: 1024
            start_limit_burst: 5
            start_limit_interval: 10s

        """)
}

@Test func printsEveryUnitPropertyType() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        services:
          web:
            listen: ":80"
            target: "127.0.0.1:8080"
            launcher: transient-unit
            command: [/usr/bin/web]
            unit_name: web.service
            unit_properties:
              MemoryMax: 512M
              MemoryHigh: 1073741824
              MemoryLow: 1000
              MemorySwapMax: infinity
              TasksMax: 64
              CPUQuota: 12.5%
              CPUWeight: 200
              IOWeight: 50
              Nice: -5
              Slice: backends.slice
              Group: "0"
              Type: notify
              KillMode: mixed
              ProtectSystem: true
              ProtectHome: read-only
              PrivateTmp: yes
              DynamicUser: off
              Environment: ["A=1", "B=two words"]
              TimeoutStopSec: 1m30s
              RuntimeMaxSec: infinity
            ready: notify
        """, file: "test.yaml")
    let printed = configuration.normalizedYAML()
    #expect(printed.contains("""
            launcher: transient-unit
            command: ["/usr/bin/web"]
            shell: false
            unit_name: "web.service"
            unit_properties:
              MemoryMax: 512M
              MemoryHigh: 1G
              MemoryLow: 1000
              MemorySwapMax: infinity
              TasksMax: 64
              CPUQuota: 12.5%
              CPUWeight: 200
              IOWeight: 50
              Nice: -5
              Slice: "backends.slice"
              Group: "0"
              Type: notify
              KillMode: mixed
              ProtectSystem: yes
              ProtectHome: read-only
              PrivateTmp: true
              DynamicUser: false
              Environment: ["A=1", "B=two words"]
              TimeoutStopSec: 1m30s
              RuntimeMaxSec: infinity
            ready: notify

        """))
    let reparsed = try ConfigLoader.parse(yaml: printed, file: "printed.yaml")
    #expect(reparsed.withoutLocations == configuration.withoutLocations)
}

@Test func printedOnDemandServicesParseBackEqual() throws {
    let command = Command(
        argv: ["/usr/bin/app", "with space", "\"quoted\"", "tab\there", "", "é"],
        environment: ["A=1", "B=x=y", "C=", "D=line\nbreak"], workingDirectory: "/srv/odd dir", user: "1000",
        group: "staff")
    let every = everyUnitPropertyType
    let services: [(String, OnDemand)] = [
        ("process", OnDemand(
            launcher: .process(command), readiness: .notify, waitAfterStart: .milliseconds(1500),
            startTimeout: .microseconds(1), autoStart: true, stopAfter: .seconds(86_400 * 3 + 1),
            stopSignal: StopSignal(name: "SIGRTMIN+3", number: 37), stopTimeout: .seconds(1),
            minUptime: .nanoseconds(1500), handOff: true, maxPending: 1, startLimitBurst: 1000,
            startLimitInterval: .seconds(1))),
        ("transient", OnDemand(
            launcher: .transientUnit(name: "a:b_c.d-e.service", command: Command(argv: ["app"]), properties: every),
            stopSignal: StopSignal(name: "SIGBUS", number: 7))),
        ("unit", OnDemand(launcher: .unit(name: "multi-user.target"), readiness: .exec(["/bin/check", "-q"]),
                          stopSignal: StopSignal(name: "SIG32", number: 32))),
        ("hooks", OnDemand(launcher: .hooks(
            start: Command(argv: ["/bin/sh", "-c", "virsh start vm"], user: "vm"),
            stop: Command(argv: ["vm", "stop"], user: "vm"), check: nil))),
        ("hooks2", OnDemand(launcher: .hooks(
            start: Command(argv: ["up"]), stop: nil, check: Command(argv: ["/bin/sh", "-c", "test -e /run/up"])))),
    ]
    let configuration = Configuration(services: services.enumerated().map { index, service in
        ServiceConfig(
            name: service.0, listen: [.inet(host: nil, port: UInt16(index + 1))], target: .inet(host: "h", port: 1),
            onDemand: service.1)
    }.sorted { $0.name < $1.name })
    let reparsed = try ConfigLoader.parse(yaml: configuration.normalizedYAML(), file: "printed.yaml")
    #expect(reparsed.withoutLocations == configuration.withoutLocations)
    #expect(reparsed.normalizedYAML() == configuration.normalizedYAML())
}

/// One value of every unit property type, with edge values.
private let everyUnitPropertyType: [UnitProperty] = [
    UnitProperty(name: "MemoryMax", value: .uint64(0)),
    UnitProperty(name: "MemoryHigh", value: .uint64(3 << 40)),
    UnitProperty(name: "MemoryLow", value: .uint64(.max)),
    UnitProperty(name: "MemorySwapMax", value: .uint64(.max - 1)),
    UnitProperty(name: "TasksMax", value: .uint64(.max)),
    UnitProperty(name: "CPUQuotaPerSecUSec", value: .uint64(1)),
    UnitProperty(name: "CPUWeight", value: .uint64(10_000)),
    UnitProperty(name: "IOWeight", value: .uint64(1)),
    UnitProperty(name: "Nice", value: .int32(-20)),
    UnitProperty(name: "Slice", value: .string("a-b.slice")),
    UnitProperty(name: "User", value: .string("www-data")),
    UnitProperty(name: "WorkingDirectory", value: .string("/a b")),
    UnitProperty(name: "Type", value: .string("exec")),
    UnitProperty(name: "KillMode", value: .string("none")),
    UnitProperty(name: "ProtectSystem", value: .string("no")),
    UnitProperty(name: "ProtectHome", value: .string("tmpfs")),
    UnitProperty(name: "NoNewPrivileges", value: .boolean(true)),
    UnitProperty(name: "PrivateNetwork", value: .boolean(false)),
    UnitProperty(name: "ProtectKernelTunables", value: .boolean(true)),
    UnitProperty(name: "Environment", value: .strings([])),
    UnitProperty(name: "TimeoutStopUSec", value: .uint64(1)),
    UnitProperty(name: "RuntimeMaxUSec", value: .uint64(.max - 1)),
]
