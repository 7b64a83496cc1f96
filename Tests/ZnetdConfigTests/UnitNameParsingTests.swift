import Testing
@testable import ZnetdConfig

@Test(arguments: [
    "postgresql.service", "multi-user.target", "a.service", "znetd-web-backend.service", "dbus-org.x:1.service",
    "foo_bar.service", String(repeating: "a", count: 247) + ".service",
])
func acceptsUnitName(name: String) {
    #expect(isValidUnitName(name, suffixes: [".service", ".target"]))
}

@Test(arguments: [
    "postgresql", ".service", "a b.service", "a/b.service", "a.socket", "a.service.d", "é.service",
    "a@b.service", String(repeating: "a", count: 248) + ".service",
])
func rejectsUnitName(name: String) {
    #expect(!isValidUnitName(name, suffixes: [".service", ".target"]))
}

@Test func acceptsInstancesButNotTemplatesWhereAllowed() {
    #expect(isValidUnitName("postgresql@15-main.service", suffixes: [".service"], allowInstance: true))
    #expect(isValidUnitName("systemd-fsck@dev-disk-by\\x2dlabel-root.service", suffixes: [".service"], allowInstance: true))
    #expect(!isValidUnitName("postgresql@.service", suffixes: [".service"], allowInstance: true))
    #expect(!isValidUnitName("@15.service", suffixes: [".service"], allowInstance: true))
    #expect(!isValidUnitName("a@b@c.service", suffixes: [".service"], allowInstance: true))
}

@Test func namesTheTransientUnitAfterTheService() {
    #expect(defaultTransientUnitName(service: "web") == "znetd-web-backend.service")
    let longest = String(repeating: "a", count: SchemaDecoder.maximumServiceNameLength)
    #expect(isValidUnitName(defaultTransientUnitName(service: longest), suffixes: [".service"]))
}
