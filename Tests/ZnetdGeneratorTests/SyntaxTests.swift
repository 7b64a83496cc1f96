import Testing
import ZnetdConfig
@testable import ZnetdGenerator

@Test func execWordsAreQuotedForSystemd() {
    #expect(SystemdSyntax.execWord("/etc/znetd") == "/etc/znetd")
    #expect(SystemdSyntax.execWord("/etc/my znetd") == "\"/etc/my znetd\"")
    #expect(SystemdSyntax.execWord("50%$x") == "50%%$$x")
    #expect(SystemdSyntax.execWord("a\"b\\c") == "\"a\\\"b\\\\c\"")
    #expect(SystemdSyntax.execWord("it's") == "\"it's\"")
    #expect(SystemdSyntax.execWord("") == "\"\"")
    #expect(SystemdSyntax.execWord(";") == "\";\"")
}

@Test func plainValuesEscapeSpecifiers() {
    #expect(SystemdSyntax.plain("/run/100%.sock") == "/run/100%%.sock")
}

@Test func unitNameComponentsAreEscaped() {
    #expect(SystemdSyntax.unitNameComponent("eth0") == "eth0")
    #expect(SystemdSyntax.unitNameComponent("enp0s31f6.1234") == "enp0s31f6.1234")
    #expect(SystemdSyntax.unitNameComponent("br-lan") == "br\\x2dlan")
}

@Test func timeSpansRoundUpToMicroseconds() {
    #expect(SystemdSyntax.timeSpan(.seconds(45)) == "45s")
    #expect(SystemdSyntax.timeSpan(.seconds(75)) == "1m15s")
    #expect(SystemdSyntax.timeSpan(.nanoseconds(1500)) == "2us")
}

@Test func configPathsWithSpacesAreQuotedInExecStart() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        services:
          web:
            listen: ":8080"
            target: "127.0.0.1:9090"
        """, file: "/etc/my znetd/znetd.yaml")
    let units = generateUnits(configuration, options: GeneratorOptions(
        configArguments: ["/etc/my znetd"], sourceFiles: ["/etc/my znetd/znetd.yaml"]))
    let service = try #require(units.first { $0.name == "znetd-web.service" })
    #expect(service.text.contains(
        "ExecStart=/usr/bin/znetd run --config \"/etc/my znetd\" --service web\n"))
}

@Test func noServicesNoUnits() {
    #expect(generateUnits(Configuration()).isEmpty)
    #expect(generateUnits(Configuration(), options: GeneratorOptions(mode: .shared)).isEmpty)
}

private func serviceText(_ yaml: String, _ unit: String, mode: UnitLayout = .perService) throws -> String {
    let configuration = try ConfigLoader.parse(yaml: yaml, file: "/etc/znetd/znetd.yaml")
    let units = generateUnits(configuration, options: GeneratorOptions(mode: mode))
    return try #require(units.first { $0.name == unit }).text
}

@Test func transientUnitWithUserNeedsNoSetuid() throws {
    // systemd runs the transient unit's command as its user; znetd only needs the bus.
    let text = try serviceText("""
        services:
          batch:
            listen: ":8081"
            target: "127.0.0.1:9091"
            launcher: transient-unit
            command: ["/usr/local/bin/batch"]
            user: nobody
        """, "znetd-batch.service")
    #expect(text.contains("DynamicUser=no\nUser=root\n"))
    #expect(text.contains("CapabilityBoundingSet=\n"))
    #expect(!text.contains("@setuid"))
    #expect(!text.contains("PrivateUsers=yes"))
}

@Test func sharedModeTakesTheLoosestShape() throws {
    let text = try serviceText("""
        services:
          web:
            listen: ":8080"
            target: "127.0.0.1:9090"
          db:
            listen: ":5433"
            target: "db.internal:5432"
            unit: postgresql.service
        """, "znetd.service", mode: .shared)
    #expect(text.contains("DynamicUser=no\nUser=root\n"))
    #expect(!text.contains("IPAddressDeny="))  // one hostname target: no IP lists for anyone
    // No --config: znetd reads the generator's search path itself; the unit names its services.
    #expect(text.contains("ExecStart=/usr/bin/znetd run --service db --service web\n"))
}

@Test func ipAllowListCoversEveryTargetOfABalancedService() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        services:
          pool:
            listen: "127.0.0.1:8080"
            tiers: [["10.0.0.2:80", "10.0.0.1:80"], ["192.0.2.9:80"]]
        """, file: "test.yaml")
    let lines = ipAddressLines(configuration.services, shape: ServiceShape(configuration.services))
    #expect(lines.contains("IPAddressAllow=localhost 10.0.0.1 10.0.0.2 192.0.2.9\n"))
    let withHostname = try ConfigLoader.parse(yaml: """
        services:
          pool:
            listen: "127.0.0.1:8080"
            targets: ["10.0.0.1:80", "backend.test:80"]
        """, file: "test.yaml")
    #expect(ipAddressLines(withHostname.services, shape: ServiceShape(withHostname.services)) == "")
}
