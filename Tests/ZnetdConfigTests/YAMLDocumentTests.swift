import Testing
import ZnetdConfig

@Test(arguments: ["", "\n\n", "# only\n  # comments\n", "---\n", "--- # empty\n...\n", "~\n"])
func textWithoutContentIsAnEmptyConfiguration(yaml: String) throws {
    #expect(try ConfigLoader.parse(yaml: yaml, file: "test.yaml") == Configuration())
}

@Test func rejectsASecondDocument() {
    #expect(problems("threads: 2\n---\nthreads: 3\n") == [
        "test.yaml:2:1: found a second YAML document; a configuration file holds one "
            + "(put each part in its own file under conf.d/)"
    ])
}

@Test(arguments: [
    ("threads: 2\nthreads: 3\n", "test.yaml:2:1: threads: duplicate key 'threads', first at line 1"),
    ("a: b: c\n", "test.yaml:1:5: invalid YAML: mapping values are not allowed in this context"),
    ("threads: [1\n", "test.yaml:2:1: invalid YAML: did not find expected ',' or ']' "
        + "(while parsing a flow sequence at line 1, column 10)"),
    ("threads: \"2\n", "test.yaml:2:1: invalid YAML: found unexpected end of stream "
        + "(while scanning a quoted scalar at line 1, column 10)"),
    ("services:\n\tweb: {}\n", "test.yaml:2:1: invalid YAML: found character that cannot start any token "
        + "(while scanning for the next token at line 2, column 1); indent with spaces: YAML does not allow tabs"),
    ("services:\n  web:\n    listen: [::1]:80\n", "test.yaml:3:14: invalid YAML: did not find expected node content "
        + "(while parsing a flow node at line 3, column 14); quote addresses in brackets, such as listen: \"[::1]:80\""),
    ("threads: *count\n", "test.yaml:1:10: alias '*count' refers to no anchor; define '&count' before using it"),
    ("threads: " + String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
     "test.yaml:1:73: nesting is deeper than 64 levels"),
])
func reportsDocumentProblem(yaml: String, problem: String) {
    #expect(problems(yaml) == [problem])
}

@Test func copiesAnchoredNodesForAliases() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        defaults:
          keepalive: &keepalive {idle: 30s, interval: 5s, count: 3}
        services:
          web:
            listen: ":80"
            target: &backend "10.0.0.1:80"
            keepalive: *keepalive
          api:
            listen: ":8080"
            target: *backend
            keepalive: *keepalive
        """, file: "test.yaml")
    let keepalive = Keepalive(idle: .seconds(30), interval: .seconds(5), count: 3)
    #expect(configuration.services.map(\.keepalive) == [keepalive, keepalive])
    #expect(configuration.services.map(\.target) == [.inet(host: "10.0.0.1", port: 80), .inet(host: "10.0.0.1", port: 80)])
}

@Test func reportsProblemsInAliasesWhereTheyAreUsed() {
    #expect(problems("""
        services:
          a: {listen: ":1", target: "h:1", max_connections: &m 0}
          b: {listen: ":2", target: "h:2", max_connections: *m}
        """) == [
            "test.yaml:2:53: services.a.max_connections: expected an integer from 1 to 1000000; found '0'",
            "test.yaml:3:53: services.b.max_connections: expected an integer from 1 to 1000000; found '0'",
        ])
}

@Test func readsBooleansOnlyFromPlainScalars() throws {
    let plain = try ConfigLoader.parse(yaml: webService("log_connections: On"), file: "test.yaml")
    #expect(plain.services.first?.logConnections == true)
    #expect(problems(webService("log_connections: 'On'")) == [
        "test.yaml:5:22: services.web.log_connections: expected true or false; found the string \"On\" (remove the quotes)"
    ])
}
