import Testing
import ZnetdConfig

@Test func infersTheLauncher() throws {
    #expect(try webOnDemand(webService("command: [app]"))?.launcher == .process(Command(argv: ["app"])))
    #expect(try webOnDemand(webService("unit: postgresql.service"))?.launcher == .unit(name: "postgresql.service"))
    #expect(try webOnDemand(webService("hooks: {start: up}"))?.launcher
        == .hooks(start: Command(argv: ["/bin/sh", "-c", "up"]), stop: nil, check: nil))
    #expect(try webOnDemand(webService()) == nil)
    #expect(try webOnDemand(webService("launcher: none")) == nil)
}

@Test func namesTheTransientUnit() throws {
    #expect(try webOnDemand(transientService())?.launcher
        == .transientUnit(name: "znetd-web-backend.service", command: Command(argv: ["/usr/bin/app"]), properties: []))
    #expect(try webOnDemand(transientService("unit_name: app-backend.service"))?.launcher
        == .transientUnit(name: "app-backend.service", command: Command(argv: ["/usr/bin/app"]), properties: []))
}

@Test func acceptsKeysWhereTheyApply() throws {
    #expect(try webOnDemand(webService("command: [app]", "hand_off: true", "ready: notify"))?.handOff == true)
    #expect(try webOnDemand(transientService("ready: notify", "unit_properties: {Type: notify}"))?.readiness == .notify)
    #expect(try webOnDemand(webService("unit: a.service", "hand_off: false", "ready: tcp"))?.handOff == false)
    #expect(try webOnDemand(webService("hooks: {start: up}", "ready: 'exec:/bin/up'"))?.readiness == .exec(["/bin/up"]))
}

// Each case is the service's on-demand lines from line 5.
@Test(arguments: [
    // Keys without a launcher.
    (["stop_after: 5m"], ["test.yaml:5:5: services.web.stop_after: 'stop_after' needs a launcher: set command, unit or hooks"]),
    (["shell: true", "unit_name: a.service"], [
        "test.yaml:5:5: services.web.shell: 'shell' needs a launcher: set command, unit or hooks",
        "test.yaml:6:5: services.web.unit_name: 'unit_name' needs a launcher: set command, unit or hooks",
    ]),
    (["hand_off: false"], ["test.yaml:5:5: services.web.hand_off: 'hand_off' needs a launcher: set command, unit or hooks"]),
    (["launcher: none", "command: [app]", "user: app"], [
        "test.yaml:6:5: services.web.command: 'command' needs a launcher; this service has launcher: none",
        "test.yaml:7:5: services.web.user: 'user' needs a launcher; this service has launcher: none",
    ]),
    // More than one launcher.
    (["command: [app]", "unit: a.service"], ["test.yaml:6:5: services.web.unit: 'unit' conflicts with 'command' "
        + "at line 5; a service has one launcher: command, unit or hooks"]),
    (["hooks: {start: up}", "unit: a.service", "command: [app]"], [
        "test.yaml:6:5: services.web.unit: 'unit' conflicts with 'hooks' at line 5; "
            + "a service has one launcher: command, unit or hooks",
        "test.yaml:7:5: services.web.command: 'command' conflicts with 'hooks' at line 5; "
            + "a service has one launcher: command, unit or hooks",
    ]),
    // Keys that do not go with the launcher.
    (["launcher: unit", "unit: a.service", "command: [app]"], ["test.yaml:7:5: services.web.command: 'command' "
        + "needs launcher: process or transient-unit (this service's launcher is unit)"]),
    (["launcher: process", "command: [app]", "unit: a.service"], ["test.yaml:7:5: services.web.unit: 'unit' "
        + "needs launcher: unit (this service's launcher is process)"]),
    (["launcher: hooks", "hooks: {start: up}", "command: [app]", "shell: false"], [
        "test.yaml:7:5: services.web.command: 'command' needs launcher: process or transient-unit "
            + "(this service's launcher is hooks)",
        "test.yaml:8:5: services.web.shell: 'shell' needs launcher: process or transient-unit "
            + "(this service's launcher is hooks)",
    ]),
    (["command: [app]", "hooks: {start: up}"], ["test.yaml:6:5: services.web.hooks: 'hooks' conflicts with "
        + "'command' at line 5; a service has one launcher: command, unit or hooks"]),
    (["command: [app]", "unit_properties: {MemoryMax: 1G}", "unit_name: a.service"], [
        "test.yaml:6:5: services.web.unit_properties: 'unit_properties' needs launcher: transient-unit "
            + "(this service's launcher is process)",
        "test.yaml:7:5: services.web.unit_name: 'unit_name' needs launcher: transient-unit "
            + "(this service's launcher is process)",
    ]),
    (["unit: a.service", "user: app", "group: app", "environment: {A: b}", "working_directory: /"], [
        "test.yaml:6:5: services.web.user: 'user' needs launcher: process, transient-unit or hooks "
            + "(this service's launcher is unit)",
        "test.yaml:7:5: services.web.group: 'group' needs launcher: process, transient-unit or hooks "
            + "(this service's launcher is unit)",
        "test.yaml:8:5: services.web.environment: 'environment' needs launcher: process, transient-unit or hooks "
            + "(this service's launcher is unit)",
        "test.yaml:9:5: services.web.working_directory: 'working_directory' needs launcher: process, "
            + "transient-unit or hooks (this service's launcher is unit)",
    ]),
    (["launcher: transient-unit", "command: [app]", "hand_off: true"], ["test.yaml:7:5: services.web.hand_off: "
        + "'hand_off: true' needs launcher: process (this service's launcher is transient-unit)"]),
    (["unit: a.service", "hand_off: yes"], ["test.yaml:6:5: services.web.hand_off: "
        + "'hand_off: true' needs launcher: process (this service's launcher is unit)"]),
    (["unit: a.service", "ready: notify"], ["test.yaml:6:5: services.web.ready: 'ready: notify' needs launcher: "
        + "process or transient-unit (this service's launcher is unit; znetd cannot give it a NOTIFY_SOCKET)"]),
    (["hooks: {start: up}", "ready: notify"], ["test.yaml:6:5: services.web.ready: 'ready: notify' needs launcher: "
        + "process or transient-unit (this service's launcher is hooks; znetd cannot give it a NOTIFY_SOCKET)"]),
    // What each launcher needs.
    (["launcher: process"], ["test.yaml:5:5: services.web.launcher: launcher: process needs 'command', "
        + "such as command: [\"/usr/bin/app\", \"--port\", \"9090\"]"]),
    (["launcher: transient-unit", "unit_name: a.service"], ["test.yaml:5:5: services.web.launcher: "
        + "launcher: transient-unit needs 'command', such as command: [\"/usr/bin/app\", \"--port\", \"9090\"]"]),
    (["launcher: unit"], ["test.yaml:5:5: services.web.launcher: launcher: unit needs 'unit', "
        + "such as unit: postgresql.service"]),
    (["launcher: hooks", "stop_after: 1m"], ["test.yaml:5:5: services.web.launcher: launcher: hooks needs 'hooks', "
        + "such as hooks: {start: [\"/usr/local/bin/vm\", \"start\", \"app\"]}"]),
    // Unit properties that say what a key says.
    (["launcher: transient-unit", "command: [app]", "user: app", "unit_properties: {User: other}"], [
        "test.yaml:8:23: services.web.unit_properties.User: unit property 'User' conflicts with 'user' "
            + "at test.yaml:7:5; set one of them",
    ]),
    (["launcher: transient-unit", "command: [app]", "unit_properties: {Environment: [A=1], WorkingDirectory: /a}",
      "environment: {}", "working_directory: /b", "group: g", "ready: notify"], [
        "test.yaml:7:23: services.web.unit_properties.Environment: unit property 'Environment' conflicts with "
            + "'environment' at test.yaml:8:5; set one of them",
        "test.yaml:7:43: services.web.unit_properties.WorkingDirectory: unit property 'WorkingDirectory' conflicts "
            + "with 'working_directory' at test.yaml:9:5; set one of them",
    ]),
    (["launcher: transient-unit", "command: [app]", "ready: notify", "unit_properties: {Type: simple}"], [
        "test.yaml:8:23: services.web.unit_properties.Type: unit property 'Type' conflicts with 'ready: notify' "
            + "at test.yaml:7:5; leave Type out or set it to notify",
    ]),
])
func rejectsLauncherCombination(lines: [String], problems expected: [String]) {
    #expect(problems(webService(lines: lines)) == expected)
}

@Test func reportsAnInvalidLauncherAlone() {
    // Which keys go with the launcher is unknown: only the launcher is reported.
    #expect(problems(webService("launcher: proc", "unit: a.service", "hand_off: true")) == [
        "test.yaml:5:15: services.web.launcher: expected process, transient-unit, unit, hooks or none; found 'proc'",
    ])
    // A key written but invalid still counts as written: no "needs 'command'".
    #expect(problems(webService("launcher: process", "command: 5")) == [
        "test.yaml:6:14: services.web.command: expected a list of program and arguments, "
            + "such as [\"/usr/bin/app\", \"--port\", \"9090\"]; found '5' (set shell: true to run a string with /bin/sh -c)",
    ])
}

@Test func rejectsOneTransientUnitForTwoServices() {
    #expect(problems("""
        services:
          a:
            listen: ":1"
            target: "h:1"
            launcher: transient-unit
            command: [a]
          b:
            listen: ":2"
            target: "h:2"
            launcher: transient-unit
            command: [b]
            unit_name: znetd-a-backend.service
          c:
            listen: ":3"
            target: "h:3"
            launcher: transient-unit
            command: [c]
            unit_name: znetd-a-backend.service
          d:
            listen: ":4"
            target: "h:4"
            unit: znetd-a-backend.service
        """) == [
            "test.yaml:12:16: services.b.unit_name: transient unit 'znetd-a-backend.service' is also the unit of "
                + "service 'a' at test.yaml:2:3; give each service its own unit_name",
            "test.yaml:18:16: services.c.unit_name: transient unit 'znetd-a-backend.service' is also the unit of "
                + "service 'a' at test.yaml:2:3; give each service its own unit_name",
        ])
}
