import Testing
@testable import ZnetdConfig

@Test func defaultsApplyToOnDemandServicesOnly() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        defaults:
          stop_after: 5m
        services:
          plain: {listen: ":1", target: "h:1"}
          app: {listen: ":2", target: "h:2", command: [app]}
          own: {listen: ":3", target: "h:3", command: [app], stop_after: infinity}
        """, file: "test.yaml")
    #expect(configuration.service(named: "plain")?.onDemand == nil)
    #expect(configuration.service(named: "app")?.onDemand?.stopAfter == .seconds(300))
    #expect(configuration.service(named: "own")?.onDemand != nil)
    #expect(configuration.service(named: "own")?.onDemand?.stopAfter == nil)
}

@Test func appliesEveryOnDemandDefault() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        defaults:
          environment: {MODE: demo}
          working_directory: /srv
          user: app
          group: app
          unit_properties: {MemoryMax: 1G}
          ready: notify
          wait_after_start: 1s
          start_timeout: 1m
          auto_start: true
          stop_after: 10m
          stop_signal: INT
          stop_timeout: 20s
          min_uptime: 30s
          hand_off: true
          max_pending: 10
          start_limit_burst: 3
          start_limit_interval: 1m
        services:
          web:
            listen: ":1"
            target: "h:1"
            launcher: transient-unit
            command: [app]
            user: web
            max_pending: 20
        """, file: "test.yaml")
    #expect(configuration.service(named: "web")?.onDemand == OnDemand(
        launcher: .transientUnit(
            name: "znetd-web-backend.service",
            command: Command(argv: ["app"], environment: ["MODE=demo"], workingDirectory: "/srv", user: "web", group: "app"),
            properties: [UnitProperty(name: "MemoryMax", value: .uint64(1 << 30))]),
        readiness: .notify,
        waitAfterStart: .seconds(1),
        startTimeout: .seconds(60),
        autoStart: true,
        stopAfter: .seconds(600),
        stopSignal: StopSignal(name: "SIGINT", number: 2),
        stopTimeout: .seconds(20),
        minUptime: .seconds(30),
        // hand_off applies to launcher: process only.
        handOff: false,
        maxPending: 20,
        startLimitBurst: 3,
        startLimitInterval: .seconds(60)))
}

@Test func defaultsApplyOnlyWhereTheLauncherCanUseThem() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        defaults:
          user: app
          environment: {MODE: demo}
          unit_properties: {MemoryMax: 1G}
          ready: notify
          hand_off: true
        services:
          process: {listen: ":1", target: "h:1", command: [app]}
          unit: {listen: ":2", target: "h:2", unit: a.service}
          hooks: {listen: ":3", target: "h:3", hooks: {start: up}}
        """, file: "test.yaml")
    let process = try #require(configuration.service(named: "process")?.onDemand)
    #expect(process.launcher == .process(Command(argv: ["app"], environment: ["MODE=demo"], user: "app")))
    #expect(process.readiness == .notify)
    #expect(process.handOff)
    let unit = try #require(configuration.service(named: "unit")?.onDemand)
    #expect(unit == OnDemand(launcher: .unit(name: "a.service")))
    let hooks = try #require(configuration.service(named: "hooks")?.onDemand)
    #expect(hooks.launcher == .hooks(
        start: Command(argv: ["/bin/sh", "-c", "up"], environment: ["MODE=demo"], user: "app"), stop: nil, check: nil))
    #expect(hooks.readiness == .tcp)
    #expect(!hooks.handOff)
}

@Test func rejectsLauncherKeysInDefaults() {
    #expect(problems("""
        defaults:
          command: [app]
          launcher: process
          shell: true
          unit: a.service
          unit_name: a.service
          hooks: {start: up}
          stop_afte: 5m
        """) == [
            "test.yaml:2:3: defaults.command: 'command' cannot be set in defaults; it defines one service's launcher",
            "test.yaml:3:3: defaults.launcher: 'launcher' cannot be set in defaults; it defines one service's launcher",
            "test.yaml:4:3: defaults.shell: 'shell' cannot be set in defaults; it defines one service's launcher",
            "test.yaml:5:3: defaults.unit: 'unit' cannot be set in defaults; it defines one service's launcher",
            "test.yaml:6:3: defaults.unit_name: 'unit_name' cannot be set in defaults; it defines one service's launcher",
            "test.yaml:7:3: defaults.hooks: 'hooks' cannot be set in defaults; it defines one service's launcher",
            "test.yaml:8:3: defaults.stop_afte: unknown key 'stop_afte'; did you mean 'stop_after'?",
        ])
}

@Test func rejectsOnDemandDefaultsOnce() {
    #expect(problems("""
        defaults:
          stop_after: 0
          unit_properties: {CPUQuota: 50}
        services:
          a: {listen: ":1", target: "h:1", command: [a]}
          b: {listen: ":2", target: "h:2", launcher: transient-unit, command: [b]}
          c: {listen: ":3", target: "h:3"}
        """) == [
            "test.yaml:2:15: defaults.stop_after: expected a duration greater than zero, such as 5m or 1h, "
                + "or infinity; found '0'",
            "test.yaml:3:31: defaults.unit_properties.CPUQuota: expected a percentage of one CPU, greater than zero, "
                + "such as 50% or 200%; found '50'",
        ])
}

@Test func reportsClashesWithDefaultsWhereTheServiceWritesItsPart() {
    #expect(problems("""
        defaults:
          user: app
          unit_properties: {Group: app}
        services:
          a:
            listen: ":1"
            target: "h:1"
            launcher: transient-unit
            command: [a]
            unit_properties: {User: a}
          b:
            listen: ":2"
            target: "h:2"
            launcher: transient-unit
            command: [b]
            group: b
        """) == [
            "test.yaml:10:23: services.a.unit_properties.User: unit property 'User' conflicts with 'user' "
                + "at test.yaml:2:3; set one of them",
            "test.yaml:16:5: services.b.group: 'group' conflicts with unit property 'Group' at test.yaml:3:21; "
                + "set one of them",
        ])
}

@Test func reportsClashesWithinDefaultsOnce() {
    #expect(problems("""
        defaults:
          user: app
          ready: notify
          unit_properties: {User: other, Type: exec}
        services:
          a: {listen: ":1", target: "h:1", launcher: transient-unit, command: [a]}
          b: {listen: ":2", target: "h:2", launcher: transient-unit, command: [b]}
        """) == [
            "test.yaml:4:21: defaults.unit_properties.User: unit property 'User' conflicts with 'user' "
                + "at test.yaml:2:3; set one of them",
            "test.yaml:4:34: defaults.unit_properties.Type: unit property 'Type' conflicts with 'ready: notify' "
                + "at test.yaml:3:3; leave Type out or set it to notify",
        ])
}

@Test func mergesOnDemandDefaultsAcrossFiles() throws {
    let first = ConfigLoader.decode(Array("""
        defaults:
          stop_after: 5m
          max_pending: 5
        services:
          web: {listen: ":1", target: "h:1", command: [app]}
        """.utf8), file: "znetd.yaml")
    let second = ConfigLoader.decode(Array("""
        defaults:
          stop_after: 1h
          user: app
        """.utf8), file: "conf.d/later.yaml")
    let onDemand = try ConfigLoader.merge([first, second]).service(named: "web")?.onDemand
    #expect(onDemand?.stopAfter == .seconds(3600))
    #expect(onDemand?.maxPending == 5)
    #expect(onDemand?.launcher == .process(Command(argv: ["app"], user: "app")))
}

@Test func reportsAClashWithDefaultsOfAnotherFileInTheServicesFile() {
    let first = ConfigLoader.decode(Array("""
        services:
          web:
            listen: ":1"
            target: "h:1"
            launcher: transient-unit
            command: [app]
            user: web
        """.utf8), file: "znetd.yaml")
    let second = ConfigLoader.decode(Array("defaults:\n  unit_properties: {User: app}\n".utf8), file: "conf.d/later.yaml")
    #expect(throws: ConfigErrors([ConfigError(
        location: SourceLocation(file: "znetd.yaml", line: 7, column: 5), keyPath: "services.web.user",
        message: "'user' conflicts with unit property 'User' at conf.d/later.yaml:2:21; set one of them")])
    ) {
        try ConfigLoader.merge([first, second])
    }
}
