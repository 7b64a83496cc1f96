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
