import Testing
import ZnetdConfig

@Test func describesErrorWithEveryPart() {
    let error = ConfigError(
        location: SourceLocation(file: "a.yaml", line: 3, column: 7), keyPath: "services.web.listen",
        message: "missing port after ':' in '1.2.3.4:'")
    #expect(error.description == "a.yaml:3:7: services.web.listen: missing port after ':' in '1.2.3.4:'")
}

@Test func describesErrorWithoutMissingParts() {
    #expect(ConfigError(location: nil, keyPath: "", message: "cannot read 'x'").description == "cannot read 'x'")
    #expect(ConfigError(location: nil, keyPath: "threads", message: "m").description == "threads: m")
    let location = SourceLocation(file: "a.yaml", line: 1, column: 1)
    #expect(ConfigError(location: location, keyPath: "", message: "m").description == "a.yaml:1:1: m")
}

@Test func describesErrorsOnePerLine() {
    let errors = ConfigErrors([
        ConfigError(location: nil, keyPath: "a", message: "first"),
        ConfigError(location: nil, keyPath: "b", message: "second"),
    ])
    #expect(errors.description == "a: first\nb: second")
}
