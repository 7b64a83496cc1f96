import Testing
import ZnetdConfig

// Each case is the service's on-demand lines from line 5.
@Test(arguments: [
    (["command: []"], "test.yaml:5:14: services.web.command: expected a list of program and arguments, "
        + "such as [\"/usr/bin/app\", \"--port\", \"9090\"]; found an empty list"),
    (["command: app --port 9090"], "test.yaml:5:14: services.web.command: expected a list of program and arguments, "
        + "such as [\"/usr/bin/app\", \"--port\", \"9090\"]; found 'app --port 9090' "
        + "(set shell: true to run a string with /bin/sh -c)"),
    (["command:"], "test.yaml:5:13: services.web.command: expected a list of program and arguments, "
        + "such as [\"/usr/bin/app\", \"--port\", \"9090\"]; found an empty value"),
    (["command: {app: 1}"], "test.yaml:5:14: services.web.command: expected a list of program and arguments, "
        + "such as [\"/usr/bin/app\", \"--port\", \"9090\"]; found a mapping"),
    (["command: [bin/app]"], "test.yaml:5:15: services.web.command[0]: expected a program: an absolute path "
        + "such as /usr/bin/app, or a name without '/' looked up in PATH; found 'bin/app'"),
    (["command: ['']"], "test.yaml:5:15: services.web.command[0]: expected a program: an absolute path "
        + "such as /usr/bin/app, or a name without '/' looked up in PATH; found ''"),
    (["command: [/usr/bin/app, [x]]"], "test.yaml:5:29: services.web.command[1]: expected a string; found a sequence"),
    (["command: [/usr/bin/app, ~]"], "test.yaml:5:29: services.web.command[1]: expected a string; found an empty value"),
    (["command: [/usr/bin/app, \"a\\0b\"]"],
     "test.yaml:5:29: services.web.command[1]: an argument cannot hold a NUL character"),
    (["command: [/usr/bin/app]", "shell: true"],
     "test.yaml:5:14: services.web.command: expected one string for /bin/sh -c (shell is true); found a sequence"),
    (["command: ''", "shell: true"],
     "test.yaml:5:14: services.web.command: expected one string for /bin/sh -c (shell is true); found ''"),
    (["command: \"a\\0b\"", "shell: true"], "test.yaml:5:14: services.web.command: a command cannot hold a NUL character"),
    // An invalid `shell` is reported alone: the command is taken in either form.
    (["command: [/usr/bin/app]", "shell: sometimes"], "test.yaml:6:12: services.web.shell: expected true or false; found 'sometimes'"),
    (["command: run app", "shell: sometimes"], "test.yaml:6:12: services.web.shell: expected true or false; found 'sometimes'"),
    (["hooks: start"], "test.yaml:5:12: services.web.hooks: expected a mapping of start (required), stop and check "
        + "commands, such as {start: [\"/usr/local/bin/vm\", \"start\", \"app\"]}; found 'start'"),
    (["hooks: {stop: halt}"], "test.yaml:5:5: services.web.hooks: "
        + "missing required key 'start', such as start: [\"/usr/local/bin/vm\", \"start\", \"app\"]"),
    (["hooks: {start: []}"], "test.yaml:5:20: services.web.hooks.start: expected a list of program and arguments, "
        + "such as [\"/usr/local/bin/vm\", \"start\", \"app\"], or a string for /bin/sh -c; found an empty list"),
    (["hooks: {start: up, stop: ''}"], "test.yaml:5:30: services.web.hooks.stop: expected a list of program and "
        + "arguments, such as [\"/usr/local/bin/vm\", \"start\", \"app\"], or a string for /bin/sh -c; found ''"),
    (["hooks: {start: [./vm, up]}"], "test.yaml:5:21: services.web.hooks.start[0]: expected a program: an absolute "
        + "path such as /usr/bin/app, or a name without '/' looked up in PATH; found './vm'"),
    (["hooks: {start: up, halt: down}"],
     "test.yaml:5:24: services.web.hooks.halt: unknown key 'halt'; valid keys are start, stop, check"),
    (["hooks: {start: up, chek: test}"],
     "test.yaml:5:24: services.web.hooks.chek: unknown key 'chek'; did you mean 'check'?"),
])
func rejectsCommand(lines: [String], problem: String) {
    #expect(problems(webService(lines: lines)) == [problem])
}

@Test func readsHooksAsListsOrShellStrings() throws {
    let onDemand = try webOnDemand(webService(
        "hooks:",
        "  start: [\"/usr/local/bin/vm\", \"start\", \"app\"]",
        "  stop: \"virsh shutdown app\"",
        "  check: [\"/usr/local/bin/vm\", \"is-up\", \"app\"]"))
    #expect(onDemand?.launcher == .hooks(
        start: Command(argv: ["/usr/local/bin/vm", "start", "app"]),
        stop: Command(argv: ["/bin/sh", "-c", "virsh shutdown app"]),
        check: Command(argv: ["/usr/local/bin/vm", "is-up", "app"])))
    #expect(try webOnDemand(webService("hooks: {start: vm-up}"))?.launcher
        == .hooks(start: Command(argv: ["/bin/sh", "-c", "vm-up"]), stop: nil, check: nil))
}

@Test func givesEveryCommandTheEnvironmentDirectoryAndUser() throws {
    let keys = ["environment: {A: \"1\", B: two}", "working_directory: /srv", "user: app", "group: staff"]
    let expected = { (argv: [String]) in
        Command(argv: argv, environment: ["A=1", "B=two"], workingDirectory: "/srv", user: "app", group: "staff")
    }
    #expect(try webOnDemand(webService(lines: ["command: [app]"] + keys))?.launcher == .process(expected(["app"])))
    #expect(try webOnDemand(webService(lines: ["launcher: transient-unit", "command: [app]"] + keys))?.launcher
        == .transientUnit(name: "znetd-web-backend.service", command: expected(["app"]), properties: []))
    #expect(try webOnDemand(webService(lines: ["hooks: {start: up, stop: down, check: [test]}"] + keys))?.launcher
        == .hooks(
            start: expected(["/bin/sh", "-c", "up"]), stop: expected(["/bin/sh", "-c", "down"]),
            check: expected(["test"])))
}
