import Testing
import ZnetdConfig

private func problems(proxies specs: [String]) -> [String] {
    do {
        _ = try ConfigLoader.proxies(specs)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

@Test func makesOneServicePerSpec() throws {
    let configuration = try ConfigLoader.proxies([":8080 127.0.0.1:9090", "  unix:/run/a.sock \t backend:80  "])
    #expect(configuration == Configuration(services: [
        ServiceConfig(
            name: "proxy1", listen: [.inet(host: nil, port: 8080)], target: .inet(host: "127.0.0.1", port: 9090),
            location: SourceLocation(file: "--proxy", line: 1, column: 1)),
        ServiceConfig(
            name: "proxy2", listen: [.unix(path: "/run/a.sock")], target: .inet(host: "backend", port: 80),
            location: SourceLocation(file: "--proxy", line: 2, column: 1)),
    ]))
}

@Test func noSpecsMakeAnEmptyConfiguration() throws {
    #expect(try ConfigLoader.proxies([]) == Configuration())
}

@Test(arguments: [
    ("  :8080 127.0.0.1:9090 extra",
     "--proxy:1:24: services.proxy1: expected LISTEN TARGET, such as ':8080 127.0.0.1:9090'; found 3 words"),
    (":8080", "--proxy:1:1: services.proxy1: expected LISTEN TARGET, such as ':8080 127.0.0.1:9090'; found one word"),
    ("   ", "--proxy:1:1: services.proxy1: expected LISTEN TARGET, such as ':8080 127.0.0.1:9090'; found nothing"),
    (" example.com:80 127.0.0.1:9090",
     "--proxy:1:2: services.proxy1.listen: listen addresses must be IP literals; found hostname 'example.com'"),
    (":80\t:9090", "--proxy:1:5: services.proxy1.target: a target needs a host, such as 127.0.0.1:9090; found ':9090'"),
])
func rejectsSpec(spec: String, problem: String) {
    #expect(problems(proxies: [spec]) == [problem])
}

@Test func reportsEveryBadSpecOnItsOwnLine() {
    #expect(problems(proxies: [":80 a:1", "127.0.0.1:80 b:1", "[::1]:81 c:0", ":82 d"]) == [
        "--proxy:2:1: services.proxy2.listen: listen address '127.0.0.1:80' conflicts with ':80' "
            + "of service 'proxy1' at --proxy:1:1",
        "--proxy:3:10: services.proxy3.target: port must be a number from 1 to 65535; found '0'",
        "--proxy:4:5: services.proxy4.target: expected HOST:PORT, [IPV6]:PORT or unix:/PATH; found 'd'",
    ])
}
