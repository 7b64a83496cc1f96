import Testing
import ZnetdConfig

@Test func readsControlAndMetricsListen() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        control:
          socket: /run/znetd-admin.sock
          group: adm
          allow_uids: [deploy, 1001]
        metrics_listen: 127.0.0.1:9101
        """, file: "test.yaml")
    #expect(configuration.control == ControlSettings(socket: "/run/znetd-admin.sock", group: "adm", allowUsers: ["deploy", "1001"]))
    #expect(configuration.metricsListen == .inet(host: "127.0.0.1", port: 9101))
    // The printed configuration reads back the same.
    #expect(try ConfigLoader.parse(yaml: configuration.normalizedYAML(), file: "again.yaml") == configuration)
}

@Test func controlDefaultsToNothing() throws {
    let configuration = try ConfigLoader.parse(yaml: "control: {allow_uids: app}", file: "test.yaml")
    #expect(configuration.control == ControlSettings(allowUsers: ["app"]))
    #expect(configuration.metricsListen == nil)
    #expect(!Configuration().normalizedYAML().contains("control"))
}

@Test(arguments: [
    ("control: {socket: relative.sock}",
     "test.yaml:1:19: control.socket: expected an absolute path to a unix socket (at most 107 bytes); found 'relative.sock'"),
    ("control: {group: \"bad group\"}", "test.yaml:1:18: control.group: expected a group name or number; found 'bad group'"),
    ("control: {allow_uids: [root, \"a b\"]}",
     "test.yaml:1:30: control.allow_uids[1]: expected a user name or number; found 'a b'"),
    ("control: {sockets: /x}", "test.yaml:1:11: control.sockets: unknown key 'sockets'; did you mean 'socket'?"),
    ("metrics_listen: interface:eth0:9101",
     "test.yaml:1:17: metrics_listen: expected an address such as 127.0.0.1:9101, [::1]:9101, :9101 or unix:/path; found 'interface:eth0:9101'"),
    ("metrics_listen: localhost",
     "test.yaml:1:17: metrics_listen: expected an address such as 127.0.0.1:9101, [::1]:9101, :9101 or unix:/path; found 'localhost'"),
])
func rejectsControlValue(yaml: String, problem: String) {
    #expect(problems(yaml) == [problem])
}

@Test func schemaListsControlKeys() {
    let paths = ConfigSchema.keyPaths
    for key in ["control", "control.socket", "control.group", "control.allow_uids", "metrics_listen"] {
        #expect(paths.contains(key))
    }
}
