import Testing
import ZnetdConfig

@Test func readsEveryOnDemandKey() throws {
    let onDemand = try webOnDemand(webService(
        "command: [\"/usr/bin/app\", \"--port\", \"9090\", \"\"]",
        "shell: false",
        "environment: {APP_MODE: demo, LANG: C.UTF-8, PORT: 9090, EMPTY: \"\", _X: \"a=b\"}",
        "working_directory: /srv/app",
        "user: app",
        "group: 1000",
        "launcher: process",
        "ready: \"exec:/usr/local/bin/is-ready  app --quiet\"",
        "wait_after_start: 500ms",
        "start_timeout: 1m",
        "auto_start: yes",
        "stop_after: 5m",
        "stop_signal: int",
        "stop_timeout: 3s",
        "min_uptime: 1m30s",
        "hand_off: true",
        "max_pending: 1000000",
        "start_limit_burst: 1000",
        "start_limit_interval: 1h"))
    #expect(onDemand == OnDemand(
        launcher: .process(Command(
            argv: ["/usr/bin/app", "--port", "9090", ""],
            environment: ["APP_MODE=demo", "LANG=C.UTF-8", "PORT=9090", "EMPTY=", "_X=a=b"],
            workingDirectory: "/srv/app", user: "app", group: "1000")),
        readiness: .exec(["/usr/local/bin/is-ready", "app", "--quiet"]),
        waitAfterStart: .milliseconds(500),
        startTimeout: .seconds(60),
        autoStart: true,
        stopAfter: .seconds(300),
        stopSignal: StopSignal(name: "SIGINT", number: 2),
        stopTimeout: .seconds(3),
        minUptime: .seconds(90),
        handOff: true,
        maxPending: 1_000_000,
        startLimitBurst: 1000,
        startLimitInterval: .seconds(3600)))
}

@Test func fillsInBuiltInOnDemandDefaults() throws {
    let onDemand = try webOnDemand(webService("command: [app]"))
    #expect(onDemand == OnDemand(launcher: .process(Command(argv: ["app"]))))
    #expect(onDemand?.readiness == .tcp)
    #expect(onDemand?.waitAfterStart == .zero)
    #expect(onDemand?.startTimeout == .seconds(30))
    #expect(onDemand?.autoStart == false)
    #expect(onDemand?.stopAfter == nil)
    #expect(onDemand?.stopSignal == StopSignal(name: "SIGTERM", number: 15))
    #expect(onDemand?.stopTimeout == .seconds(10))
    #expect(onDemand?.minUptime == .zero)
    #expect(onDemand?.handOff == false)
    #expect(onDemand?.maxPending == 1024)
    #expect(onDemand?.startLimitBurst == 5)
    #expect(onDemand?.startLimitInterval == .seconds(10))
}

@Test func runsAShellCommandWithBinSh() throws {
    let onDemand = try webOnDemand(webService("command: exec /usr/bin/app >>/var/log/app.log 2>&1", "shell: true"))
    #expect(onDemand?.launcher == .process(Command(argv: ["/bin/sh", "-c", "exec /usr/bin/app >>/var/log/app.log 2>&1"])))
}

@Test(arguments: [("infinity", nil), ("1h", .seconds(3600)), ("0.5s", .milliseconds(500))] as [(String, Duration?)])
func readsStopAfter(text: String, stopAfter: Duration?) throws {
    #expect(try webOnDemand(webService("command: [app]", "stop_after: \(text)"))?.stopAfter == stopAfter)
}

@Test(arguments: [
    ("tcp", Readiness.tcp), ("notify", .notify), ("exec:/bin/true", .exec(["/bin/true"])),
    ("'exec: /usr/bin/pg_isready -q'", .exec(["/usr/bin/pg_isready", "-q"])),
])
func readsReadiness(text: String, readiness: Readiness) throws {
    #expect(try webOnDemand(webService("command: [app]", "ready: \(text)"))?.readiness == readiness)
}

@Test(arguments: [("TERM", 15), ("SIGKILL", 9), ("hup", 1), ("RTMIN+3", 37), ("10", 10)] as [(String, Int32)])
func readsStopSignal(text: String, number: Int32) throws {
    #expect(try webOnDemand(webService("command: [app]", "stop_signal: \(text)"))?.stopSignal.number == number)
}

// Each case adds one line (line 7) to a service that runs /usr/bin/app as a transient unit.
@Test(arguments: [
    ("shell: maybe", "test.yaml:7:12: services.web.shell: expected true or false; found 'maybe'"),
    ("environment: [A=1]", "test.yaml:7:18: services.web.environment: "
        + "expected a mapping of variable names to values, such as {APP_MODE: demo}; found a sequence"),
    ("environment:", "test.yaml:7:17: services.web.environment: "
        + "expected a mapping of variable names to values, such as {APP_MODE: demo}; found an empty value"),
    ("environment: {1X: a}", "test.yaml:7:19: services.web.environment.1X: "
        + "invalid variable name '1X': use letters, digits and '_', not starting with a digit"),
    ("environment: {A-B: a}", "test.yaml:7:19: services.web.environment.A-B: "
        + "invalid variable name 'A-B': use letters, digits and '_', not starting with a digit"),
    ("environment: {A: ~}", "test.yaml:7:22: services.web.environment.A: "
        + "expected a string such as demo (write \"\" for an empty value); found an empty value"),
    ("environment: {A: [1]}", "test.yaml:7:22: services.web.environment.A: "
        + "expected a string such as demo (write \"\" for an empty value); found a sequence"),
    ("environment: {A: \"a\\0b\"}", "test.yaml:7:22: services.web.environment.A: a value cannot hold a NUL character"),
    ("environment: {A: 1, A: 2}", "test.yaml:7:25: services.web.environment.A: duplicate key 'A', first at line 7"),
    ("working_directory: srv/app", "test.yaml:7:24: services.web.working_directory: "
        + "expected an absolute path such as /srv/app; found 'srv/app'"),
    ("user: 'a b'", "test.yaml:7:11: services.web.user: expected a user name or number, such as app or 1000; found 'a b'"),
    ("user: 4294967295", "test.yaml:7:11: services.web.user: "
        + "expected a user name or number, such as app or 1000; found '4294967295'"),
    ("user: -app", "test.yaml:7:11: services.web.user: expected a user name or number, such as app or 1000; found '-app'"),
    ("group: 9x", "test.yaml:7:12: services.web.group: expected a group name or number, such as app or 1000; found '9x'"),
    ("unit_name: app", "test.yaml:7:16: services.web.unit_name: expected a unit name ending in .service, of letters, "
        + "digits, ':', '_', '.' and '-' (at most 255 characters), such as znetd-web-backend.service; found 'app'"),
    ("unit_name: .service", "test.yaml:7:16: services.web.unit_name: expected a unit name ending in .service, of "
        + "letters, digits, ':', '_', '.' and '-' (at most 255 characters), such as znetd-web-backend.service; "
        + "found '.service'"),
    ("unit_name: a@b.service", "test.yaml:7:16: services.web.unit_name: expected a unit name ending in .service, of "
        + "letters, digits, ':', '_', '.' and '-' (at most 255 characters), such as znetd-web-backend.service; "
        + "found 'a@b.service'"),
    ("unit_name: 'a b.service'", "test.yaml:7:16: services.web.unit_name: expected a unit name ending in .service, "
        + "of letters, digits, ':', '_', '.' and '-' (at most 255 characters), such as znetd-web-backend.service; "
        + "found 'a b.service'"),
    ("ready: http", "test.yaml:7:12: services.web.ready: expected tcp, notify, or exec: and an absolute path with "
        + "arguments, such as exec:/usr/local/bin/is-ready app; found 'http'"),
    ("ready: exec:is-ready", "test.yaml:7:12: services.web.ready: expected tcp, notify, or exec: and an absolute "
        + "path with arguments, such as exec:/usr/local/bin/is-ready app; found 'exec:is-ready'"),
    ("ready: 'exec: '", "test.yaml:7:12: services.web.ready: expected tcp, notify, or exec: and an absolute path "
        + "with arguments, such as exec:/usr/local/bin/is-ready app; found 'exec: '"),
    ("ready: TCP", "test.yaml:7:12: services.web.ready: expected tcp, notify, or exec: and an absolute path with "
        + "arguments, such as exec:/usr/local/bin/is-ready app; found 'TCP'"),
    ("wait_after_start: -1s", "test.yaml:7:23: services.web.wait_after_start: "
        + "expected a duration such as 0s, 500ms or 2s; found '-1s'"),
    ("start_timeout: 0", "test.yaml:7:20: services.web.start_timeout: "
        + "expected a duration greater than zero, such as 10s or 1m; found '0'"),
    ("start_timeout: infinity", "test.yaml:7:20: services.web.start_timeout: "
        + "expected a duration greater than zero, such as 10s or 1m; found 'infinity'"),
    ("auto_start: \"yes\"", "test.yaml:7:17: services.web.auto_start: "
        + "expected true or false; found the string \"yes\" (remove the quotes)"),
    ("stop_after: 0", "test.yaml:7:17: services.web.stop_after: "
        + "expected a duration greater than zero, such as 5m or 1h, or infinity; found '0'"),
    ("stop_after: never", "test.yaml:7:17: services.web.stop_after: "
        + "expected a duration greater than zero, such as 5m or 1h, or infinity; found 'never'"),
    ("stop_signal: BUS", "test.yaml:7:18: services.web.stop_signal: expected a signal such as TERM, INT, HUP, QUIT, "
        + "KILL, USR1, USR2, WINCH or RTMIN+N, or a number from 1 to 64; found 'BUS'"),
    ("stop_signal: 0", "test.yaml:7:18: services.web.stop_signal: expected a signal such as TERM, INT, HUP, QUIT, "
        + "KILL, USR1, USR2, WINCH or RTMIN+N, or a number from 1 to 64; found '0'"),
    ("stop_signal: 65", "test.yaml:7:18: services.web.stop_signal: expected a signal such as TERM, INT, HUP, QUIT, "
        + "KILL, USR1, USR2, WINCH or RTMIN+N, or a number from 1 to 64; found '65'"),
    ("stop_signal: RTMIN+31", "test.yaml:7:18: services.web.stop_signal: expected a signal such as TERM, INT, HUP, "
        + "QUIT, KILL, USR1, USR2, WINCH or RTMIN+N, or a number from 1 to 64; found 'RTMIN+31'"),
    ("stop_timeout: 0s", "test.yaml:7:19: services.web.stop_timeout: "
        + "expected a duration greater than zero, such as 10s or 1m; found '0s'"),
    ("min_uptime: soon", "test.yaml:7:17: services.web.min_uptime: "
        + "expected a duration such as 0s, 500ms or 2s; found 'soon'"),
    ("hand_off: 2", "test.yaml:7:15: services.web.hand_off: expected true or false; found '2'"),
    ("max_pending: 0", "test.yaml:7:18: services.web.max_pending: expected an integer from 1 to 1000000; found '0'"),
    ("max_pending: 1000001", "test.yaml:7:18: services.web.max_pending: "
        + "expected an integer from 1 to 1000000; found '1000001'"),
    ("start_limit_burst: 0", "test.yaml:7:24: services.web.start_limit_burst: "
        + "expected an integer from 1 to 1000; found '0'"),
    ("start_limit_burst: 1001", "test.yaml:7:24: services.web.start_limit_burst: "
        + "expected an integer from 1 to 1000; found '1001'"),
    ("start_limit_interval: 0", "test.yaml:7:27: services.web.start_limit_interval: "
        + "expected a duration greater than zero, such as 10s or 1m; found '0'"),
    ("comand: [app]", "test.yaml:7:5: services.web.comand: unknown key 'comand'; did you mean 'command'?"),
    ("stop_afer: 5m", "test.yaml:7:5: services.web.stop_afer: unknown key 'stop_afer'; did you mean 'stop_after'?"),
    ("unit_propertis: {}", "test.yaml:7:5: services.web.unit_propertis: "
        + "unknown key 'unit_propertis'; did you mean 'unit_properties'?"),
    ("ready: tcp\n    ready: notify", "test.yaml:8:5: services.web.ready: duplicate key 'ready', first at line 7"),
])
func rejectsOnDemandValue(line: String, problem: String) {
    #expect(problems(transientService(line)) == [problem])
}

@Test(arguments: [
    ("launcher: systemd", "test.yaml:5:15: services.web.launcher: "
        + "expected process, transient-unit, unit, hooks or none; found 'systemd'"),
    ("launcher: Process", "test.yaml:5:15: services.web.launcher: "
        + "expected process, transient-unit, unit, hooks or none; found 'Process'"),
    ("unit: postgresql", "test.yaml:5:11: services.web.unit: "
        + "expected a unit name ending in .service or .target, such as postgresql.service; found 'postgresql'"),
    ("unit: app.socket", "test.yaml:5:11: services.web.unit: "
        + "expected a unit name ending in .service or .target, such as postgresql.service; found 'app.socket'"),
    ("unit: postgresql@.service", "test.yaml:5:11: services.web.unit: expected a unit name ending in .service or "
        + ".target, such as postgresql.service; found 'postgresql@.service'"),
    ("unit: [a.service]", "test.yaml:5:11: services.web.unit: "
        + "expected a unit name ending in .service or .target, such as postgresql.service; found a sequence"),
])
func rejectsLauncherValue(line: String, problem: String) {
    #expect(problems(webService(line)) == [problem])
}

@Test(arguments: ["postgresql.service", "multi-user.target", "postgresql@15-main.service", "'a:b_c\\x2d.service'"])
func readsUnit(name: String) throws {
    guard case .unit(let unit)? = try webOnDemand(webService("unit: \(name)"))?.launcher else {
        Issue.record("not a unit launcher")
        return
    }
    #expect("'\(unit)'" == name || unit == name)
}
