import Testing
import ZnetdConfig

/// The properties of the transient unit of service `web`, with `unit_properties: VALUE` on line 7.
private func unitProperties(_ value: String) throws -> [UnitProperty] {
    let onDemand = try webOnDemand(transientService("unit_properties: \(value)"))
    guard case .transientUnit(_, _, let properties)? = onDemand?.launcher else {
        Issue.record("not a transient unit: \(String(describing: onDemand))")
        return []
    }
    return properties
}

@Test(arguments: [
    ("{MemoryMax: 512M}", UnitProperty(name: "MemoryMax", value: .uint64(512 << 20))),
    ("{MemoryMax: 0}", UnitProperty(name: "MemoryMax", value: .uint64(0))),
    ("{MemoryMax: 2T}", UnitProperty(name: "MemoryMax", value: .uint64(2 << 40))),
    ("{MemoryHigh: 1G}", UnitProperty(name: "MemoryHigh", value: .uint64(1 << 30))),
    ("{MemoryLow: 1073741824}", UnitProperty(name: "MemoryLow", value: .uint64(1 << 30))),
    ("{MemorySwapMax: 64K}", UnitProperty(name: "MemorySwapMax", value: .uint64(64 << 10))),
    ("{MemorySwapMax: infinity}", UnitProperty(name: "MemorySwapMax", value: .uint64(.max))),
    ("{TasksMax: 512}", UnitProperty(name: "TasksMax", value: .uint64(512))),
    ("{TasksMax: infinity}", UnitProperty(name: "TasksMax", value: .uint64(.max))),
    ("{CPUQuota: 50%}", UnitProperty(name: "CPUQuotaPerSecUSec", value: .uint64(500_000))),
    ("{CPUQuota: 200%}", UnitProperty(name: "CPUQuotaPerSecUSec", value: .uint64(2_000_000))),
    ("{CPUQuota: 12.5%}", UnitProperty(name: "CPUQuotaPerSecUSec", value: .uint64(125_000))),
    ("{CPUQuota: 0.0001%}", UnitProperty(name: "CPUQuotaPerSecUSec", value: .uint64(1))),
    ("{CPUWeight: 1}", UnitProperty(name: "CPUWeight", value: .uint64(1))),
    ("{IOWeight: 10000}", UnitProperty(name: "IOWeight", value: .uint64(10_000))),
    ("{Nice: -20}", UnitProperty(name: "Nice", value: .int32(-20))),
    ("{Nice: 19}", UnitProperty(name: "Nice", value: .int32(19))),
    ("{Slice: backends.slice}", UnitProperty(name: "Slice", value: .string("backends.slice"))),
    ("{User: app}", UnitProperty(name: "User", value: .string("app"))),
    ("{Group: 1000}", UnitProperty(name: "Group", value: .string("1000"))),
    ("{WorkingDirectory: /srv/app}", UnitProperty(name: "WorkingDirectory", value: .string("/srv/app"))),
    ("{Type: notify}", UnitProperty(name: "Type", value: .string("notify"))),
    ("{Type: oneshot}", UnitProperty(name: "Type", value: .string("oneshot"))),
    ("{KillMode: mixed}", UnitProperty(name: "KillMode", value: .string("mixed"))),
    ("{KillMode: control-group}", UnitProperty(name: "KillMode", value: .string("control-group"))),
    ("{ProtectSystem: strict}", UnitProperty(name: "ProtectSystem", value: .string("strict"))),
    ("{ProtectSystem: yes}", UnitProperty(name: "ProtectSystem", value: .string("yes"))),
    ("{ProtectSystem: false}", UnitProperty(name: "ProtectSystem", value: .string("no"))),
    ("{ProtectHome: read-only}", UnitProperty(name: "ProtectHome", value: .string("read-only"))),
    ("{ProtectHome: true}", UnitProperty(name: "ProtectHome", value: .string("yes"))),
    ("{PrivateTmp: yes}", UnitProperty(name: "PrivateTmp", value: .boolean(true))),
    ("{NoNewPrivileges: true}", UnitProperty(name: "NoNewPrivileges", value: .boolean(true))),
    ("{DynamicUser: false}", UnitProperty(name: "DynamicUser", value: .boolean(false))),
    ("{PrivateNetwork: on}", UnitProperty(name: "PrivateNetwork", value: .boolean(true))),
    ("{ProtectKernelTunables: no}", UnitProperty(name: "ProtectKernelTunables", value: .boolean(false))),
    ("{Environment: [\"A=1\", \"B=x=y\", \"C=\"]}", UnitProperty(name: "Environment", value: .strings(["A=1", "B=x=y", "C="]))),
    ("{TimeoutStopSec: 90s}", UnitProperty(name: "TimeoutStopUSec", value: .uint64(90_000_000))),
    ("{TimeoutStopSec: 1.5ms}", UnitProperty(name: "TimeoutStopUSec", value: .uint64(1500))),
    ("{TimeoutStopSec: infinity}", UnitProperty(name: "TimeoutStopUSec", value: .uint64(.max))),
    ("{RuntimeMaxSec: 1h}", UnitProperty(name: "RuntimeMaxUSec", value: .uint64(3_600_000_000))),
])
func readsUnitProperty(value: String, property: UnitProperty) throws {
    #expect(try unitProperties(value) == [property])
}

@Test func keepsUnitPropertiesInFileOrder() throws {
    #expect(try unitProperties("{Nice: 5, MemoryMax: 1K, CPUQuota: 50%}") == [
        UnitProperty(name: "Nice", value: .int32(5)),
        UnitProperty(name: "MemoryMax", value: .uint64(1024)),
        UnitProperty(name: "CPUQuotaPerSecUSec", value: .uint64(500_000)),
    ])
    #expect(try unitProperties("{}") == [])
}

// Each case is `unit_properties: {PROPERTY: VALUE}` on line 7; the value starts at column 23 + the
// property name's length + 2.
@Test(arguments: [
    ("MemoryMax", "512MB", "expected a size in bytes such as 512M, 2G or 1073741824 (K, M, G, T: powers of 1024), "
        + "or infinity; found '512MB'"),
    ("MemoryHigh", "-1", "expected a size in bytes such as 512M, 2G or 1073741824 (K, M, G, T: powers of 1024), "
        + "or infinity; found '-1'"),
    ("MemoryLow", "20000000T", "expected a size in bytes such as 512M, 2G or 1073741824 (K, M, G, T: powers of 1024), "
        + "or infinity; found '20000000T'"),
    ("MemorySwapMax", "50%", "expected a size in bytes such as 512M, 2G or 1073741824 (K, M, G, T: powers of 1024), "
        + "or infinity; found '50%'"),
    ("TasksMax", "1K", "expected an integer such as 512, or infinity; found '1K'"),
    ("CPUQuota", "50", "expected a percentage of one CPU, greater than zero, such as 50% or 200%; found '50'"),
    ("CPUQuota", "0%", "expected a percentage of one CPU, greater than zero, such as 50% or 200%; found '0%'"),
    ("CPUQuota", "1.23456%", "expected a percentage of one CPU, greater than zero, such as 50% or 200%; found '1.23456%'"),
    ("CPUQuota", ".5%", "expected a percentage of one CPU, greater than zero, such as 50% or 200%; found '.5%'"),
    ("CPUWeight", "0", "expected an integer from 1 to 10000; found '0'"),
    ("IOWeight", "10001", "expected an integer from 1 to 10000; found '10001'"),
    ("Nice", "20", "expected an integer from -20 to 19; found '20'"),
    ("Nice", "-21", "expected an integer from -20 to 19; found '-21'"),
    ("Slice", "system", "expected a slice name such as system.slice; found 'system'"),
    ("User", "'a b'", "expected a user name or number, such as app or 1000; found 'a b'"),
    ("Group", "-g", "expected a group name or number, such as app or 1000; found '-g'"),
    ("WorkingDirectory", "srv", "expected an absolute path such as /srv/app; found 'srv'"),
    ("Type", "daemon", "expected one of simple, exec, forking, oneshot, notify, idle; found 'daemon'"),
    ("KillMode", "all", "expected one of control-group, process, mixed, none; found 'all'"),
    ("ProtectSystem", "maybe", "expected true, false, full or strict; found 'maybe'"),
    ("ProtectHome", "read-write", "expected true, false, read-only or tmpfs; found 'read-write'"),
    ("PrivateTmp", "\"yes\"", "expected true or false; found the string \"yes\" (remove the quotes)"),
    ("NoNewPrivileges", "1", "expected true or false; found '1'"),
    ("Environment", "A=1", "expected a list of NAME=value strings, such as [\"MODE=demo\"]; found 'A=1'"),
    ("TimeoutStopSec", "1.5us", "expected a duration such as 90s or 5m, or infinity; found '1.5us'"),
    ("RuntimeMaxSec", "forever", "expected a duration such as 90s or 5m, or infinity; found 'forever'"),
])
func rejectsUnitPropertyValue(name: String, value: String, message: String) {
    let column = 23 + name.count + 2
    #expect(problems(transientService("unit_properties: {\(name): \(value)}"))
        == ["test.yaml:7:\(column): services.web.unit_properties.\(name): \(message)"])
}

@Test func rejectsEnvironmentPropertyEntries() {
    #expect(problems(transientService("unit_properties: {Environment: [\"1A=1\", \"B\", [C=1], \"D=ok\"]}")) == [
        "test.yaml:7:37: services.web.unit_properties.Environment[0]: expected NAME=value, with a NAME of letters, "
            + "digits and '_' not starting with a digit; found '1A=1'",
        "test.yaml:7:45: services.web.unit_properties.Environment[1]: expected NAME=value, with a NAME of letters, "
            + "digits and '_' not starting with a digit; found 'B'",
        "test.yaml:7:50: services.web.unit_properties.Environment[2]: expected NAME=value, with a NAME of letters, "
            + "digits and '_' not starting with a digit; found a sequence",
    ])
}

@Test func rejectsUnknownUnitProperties() {
    #expect(problems(transientService("unit_properties: {MemoryMaxx: 1G, Restart: always}")) == [
        "test.yaml:7:23: services.web.unit_properties.MemoryMaxx: unknown unit property 'MemoryMaxx'; "
            + "did you mean 'MemoryMax'?",
        "test.yaml:7:39: services.web.unit_properties.Restart: unknown unit property 'Restart'; supported properties "
            + "are MemoryMax, MemoryHigh, MemoryLow, MemorySwapMax, TasksMax, CPUQuota, CPUWeight, IOWeight, Nice, "
            + "Slice, User, Group, WorkingDirectory, Type, KillMode, ProtectSystem, ProtectHome, PrivateTmp, "
            + "NoNewPrivileges, DynamicUser, PrivateNetwork, ProtectKernelTunables, Environment, TimeoutStopSec, "
            + "RuntimeMaxSec",
    ])
}

@Test func rejectsUnitPropertiesThatAreNotAMapping() {
    #expect(problems(transientService("unit_properties: [MemoryMax=1G]")) == [
        "test.yaml:7:22: services.web.unit_properties: expected a mapping of unit settings to values, "
            + "such as {MemoryMax: 512M, CPUQuota: 50%}; found a sequence",
    ])
    #expect(problems(transientService("unit_properties: {Nice: 1, Nice: 2}")) == [
        "test.yaml:7:32: services.web.unit_properties.Nice: duplicate key 'Nice', first at line 7",
    ])
}
