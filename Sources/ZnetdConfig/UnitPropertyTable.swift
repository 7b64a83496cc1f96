/// A unit-file setting that `unit_properties` accepts for a transient unit, and the D-Bus
/// property it becomes (StartTransientUnit takes D-Bus names and typed values, not unit-file text).
struct UnitPropertySchema: Sendable {
    /// How a value is written in the configuration and typed on D-Bus.
    enum Kind: Sendable, Equatable {
        /// `t`: bytes; an integer with an optional `K`, `M`, `G` or `T` (powers of 1024), or `infinity`.
        case bytes
        /// `t`: an integer, or `infinity`.
        case count
        /// `t` (CPUQuotaPerSecUSec): a percentage of one CPU such as `50%`, sent as CPU time in
        /// microseconds per second (percent × 10000).
        case cpuQuota
        /// `t`: an integer from 1 to 10000.
        case weight
        /// `i`: an integer from -20 to 19.
        case nice
        /// `s`: a slice, such as `system.slice`.
        case slice
        /// `s`: a user (or group, as the name says) by name or number.
        case account(String)
        /// `s`: an absolute path.
        case absolutePath
        /// `s`: one of these words.
        case choice([String])
        /// `s`: a boolean, sent as `yes` or `no`, or one of these words.
        case booleanOrChoice([String])
        /// `b`.
        case boolean
        /// `as`: a list of `NAME=value`.
        case environment
        /// `t`: microseconds, from a duration, or `infinity` (UInt64.max).
        case microseconds
    }

    /// The unit-file name, as written under `unit_properties:`.
    var name: String
    /// The D-Bus property name, as in ``UnitProperty/name``.
    var busName: String
    var kind: Kind

    init(_ name: String, busName: String? = nil, _ kind: Kind) {
        self.name = name
        self.busName = busName ?? name
        self.kind = kind
    }

    /// Every supported property, in the order messages list them.
    static let all: [UnitPropertySchema] = [
        .init("MemoryMax", .bytes),
        .init("MemoryHigh", .bytes),
        .init("MemoryLow", .bytes),
        .init("MemorySwapMax", .bytes),
        .init("TasksMax", .count),
        .init("CPUQuota", busName: "CPUQuotaPerSecUSec", .cpuQuota),
        .init("CPUWeight", .weight),
        .init("IOWeight", .weight),
        .init("Nice", .nice),
        .init("Slice", .slice),
        .init("User", .account("user")),
        .init("Group", .account("group")),
        .init("WorkingDirectory", .absolutePath),
        .init("Type", .choice(["simple", "exec", "forking", "oneshot", "notify", "idle"])),
        .init("KillMode", .choice(["control-group", "process", "mixed", "none"])),
        .init("ProtectSystem", .booleanOrChoice(["full", "strict"])),
        .init("ProtectHome", .booleanOrChoice(["read-only", "tmpfs"])),
        .init("PrivateTmp", .boolean),
        .init("NoNewPrivileges", .boolean),
        .init("DynamicUser", .boolean),
        .init("PrivateNetwork", .boolean),
        .init("ProtectKernelTunables", .boolean),
        .init("Environment", .environment),
        .init("TimeoutStopSec", busName: "TimeoutStopUSec", .microseconds),
        .init("RuntimeMaxSec", busName: "RuntimeMaxUSec", .microseconds),
    ]

    static func named(_ name: String) -> UnitPropertySchema? {
        all.first { $0.name == name }
    }

    static func withBusName(_ busName: String) -> UnitPropertySchema? {
        all.first { $0.busName == busName }
    }
}

extension UnitPropertySchema.Kind {
    /// What a value looks like, for "expected ..." in messages.
    var expected: String {
        switch self {
        case .bytes: "a size in bytes such as 512M, 2G or 1073741824 (K, M, G, T: powers of 1024), or infinity"
        case .count: "an integer such as 512, or infinity"
        case .cpuQuota: "a percentage of one CPU, greater than zero, such as 50% or 200%"
        case .weight: "an integer from 1 to 10000"
        case .nice: "an integer from -20 to 19"
        case .slice: "a slice name such as system.slice"
        case .account(let what): "a \(what) name or number, such as app or 1000"
        case .absolutePath: "an absolute path such as /srv/app"
        case .choice(let words): "one of " + words.joined(separator: ", ")
        case .booleanOrChoice(let words): "true, false, " + words.joined(separator: " or ")
        case .boolean: "true or false"
        case .environment: "a list of NAME=value strings, such as [\"MODE=demo\"]"
        case .microseconds: "a duration such as 90s or 5m, or infinity"
        }
    }

    /// The value of a scalar written `text`; `nil` when it is not one. Not for `.boolean` and
    /// `.environment`, which are not read from one plain text.
    func parse(_ text: String) -> UnitProperty.Value? {
        switch self {
        case .bytes:
            text == "infinity" ? .uint64(.max) : parseUnitByteSize(text).map { .uint64($0) }
        case .count:
            text == "infinity" ? .uint64(.max) : parseDecimal(text).map { .uint64($0) }
        case .cpuQuota:
            parseCPUQuota(text).map { .uint64($0) }
        case .weight:
            parseDecimal(text).flatMap { (1...10_000).contains($0) ? .uint64($0) : nil }
        case .nice:
            Int32(text).flatMap { (-20...19).contains($0) ? .int32($0) : nil }
        case .slice:
            isValidUnitName(text, suffixes: [".slice"]) ? .string(text) : nil
        case .account:
            isValidUserOrGroup(text) ? .string(text) : nil
        case .absolutePath:
            isAbsolutePath(text) ? .string(text) : nil
        case .choice(let words):
            words.contains(text) ? .string(text) : nil
        case .booleanOrChoice(let words):
            parseBoolean(text).map { .string($0 ? "yes" : "no") } ?? (words.contains(text) ? .string(text) : nil)
        case .microseconds:
            text == "infinity" ? .uint64(.max) : parseDuration(text).flatMap(wholeMicroseconds).map { .uint64($0) }
        case .boolean, .environment:
            preconditionFailure("\(self) values are not parsed from one scalar")
        }
    }

    /// `value` as `normalizedYAML()` writes it, which ``parse(_:)`` (or the boolean and list
    /// readers) read back to the same value.
    func format(_ value: UnitProperty.Value) -> String {
        switch (self, value) {
        case (.bytes, .uint64(let bytes)):
            bytes == .max ? "infinity" : formatUnitByteSize(bytes)
        case (.count, .uint64(.max)), (.microseconds, .uint64(.max)):
            "infinity"
        case (.microseconds, .uint64(let microseconds)):
            formatDuration(Duration(
                secondsComponent: Int64(microseconds / 1_000_000),
                attosecondsComponent: Int64(microseconds % 1_000_000) * 1_000_000_000_000))
        case (.cpuQuota, .uint64(let quota)):
            formatCPUQuota(quota)
        case (.choice, .string(let word)), (.booleanOrChoice, .string(let word)):
            word
        default:
            formatUnitPropertyValue(value)
        }
    }
}

/// Any value in YAML that reads back as the same text: for values without a kind of their own.
func formatUnitPropertyValue(_ value: UnitProperty.Value) -> String {
    switch value {
    case .string(let text): doubleQuoted(text)
    case .boolean(let flag): "\(flag)"
    case .uint64(let number): "\(number)"
    case .int32(let number): "\(number)"
    case .strings(let texts): "[" + texts.map(doubleQuoted).joined(separator: ", ") + "]"
    }
}

/// Byte suffixes for unit properties, largest first, as systemd reads them (powers of 1024).
private let unitByteSizeUnits: [(suffix: String, bytes: UInt64)] = [
    ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10),
]

/// Decimal digits only, as a UInt64 (no sign, no spaces).
private func parseDecimal(_ text: Substring) -> UInt64? {
    guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    return UInt64(text)
}

private func parseDecimal(_ text: String) -> UInt64? {
    parseDecimal(Substring(text))
}

/// `512M`, `2G`, `1073741824`: an integer with an optional suffix K, M, G or T.
private func parseUnitByteSize(_ text: String) -> UInt64? {
    guard let unit = unitByteSizeUnits.first(where: { text.hasSuffix($0.suffix) }) else {
        return parseDecimal(text)
    }
    guard let count = parseDecimal(text.dropLast(unit.suffix.count)) else { return nil }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: unit.bytes)
    return overflow ? nil : bytes
}

/// The largest suffix that keeps `bytes` exact: `512M`, `1G`, `1000`.
private func formatUnitByteSize(_ bytes: UInt64) -> String {
    for (suffix, size) in unitByteSizeUnits where bytes != 0 && bytes % size == 0 {
        return "\(bytes / size)\(suffix)"
    }
    return "\(bytes)"
}

/// `50%` → 500000: percent × 10000, with up to four decimals (`12.5%`), greater than zero.
private func parseCPUQuota(_ text: String) -> UInt64? {
    guard text.hasSuffix("%") else { return nil }
    let number = text.dropLast()
    let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = parseDecimal(parts[0]) else { return nil }
    var fraction: UInt64 = 0
    if parts.count == 2 {
        guard parts[1].count <= 4, let digits = parseDecimal(parts[1]) else { return nil }
        fraction = digits * [1000, 100, 10, 1][parts[1].count - 1]
    }
    let (scaled, overflow) = whole.multipliedReportingOverflow(by: 10_000)
    guard !overflow, scaled <= .max - fraction, scaled + fraction > 0 else { return nil }
    return scaled + fraction
}

/// 500000 → `50%`, 125000 → `12.5%`.
private func formatCPUQuota(_ quota: UInt64) -> String {
    var fraction = String(quota % 10_000)
    guard fraction != "0" else { return "\(quota / 10_000)%" }
    fraction = String(repeating: "0", count: 4 - fraction.count) + fraction
    while fraction.last == "0" { fraction.removeLast() }
    return "\(quota / 10_000).\(fraction)%"
}

/// A duration in whole microseconds; `nil` when it has a smaller part or does not fit.
private func wholeMicroseconds(_ duration: Duration) -> UInt64? {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0, attoseconds % 1_000_000_000_000 == 0 else { return nil }
    let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000)
    let total = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000_000))
    // UInt64.max itself means infinity: a duration that long is written as infinity.
    return overflow || total.overflow || total.partialValue == .max ? nil : total.partialValue
}
