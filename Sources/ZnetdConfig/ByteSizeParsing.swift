/// Byte-size suffixes, 1024-based, largest first.
private let byteSizeUnits: [(names: [String], bytes: Int)] = [
    (["M", "MiB"], 1 << 20),
    (["K", "KiB"], 1 << 10),
]

/// Parses a size in bytes: an integer, or an integer with the suffix `K`/`KiB` or `M`/`MiB`
/// (powers of 1024), such as `65536`, `64KiB` or `1MiB`. `nil` for anything else.
func parseByteSize(_ text: String) -> Int? {
    let digits = text.prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty, let value = Int(digits) else { return nil }
    let suffix = String(text.dropFirst(digits.count))
    if suffix.isEmpty { return value }
    guard let unit = byteSizeUnits.first(where: { $0.names.contains(suffix) }) else { return nil }
    let (bytes, overflow) = value.multipliedReportingOverflow(by: unit.bytes)
    return overflow ? nil : bytes
}

/// Writes a size in bytes with the largest suffix that keeps it exact: `1MiB`, `64KiB`, `5000`.
func formatByteSize(_ bytes: Int) -> String {
    for (names, size) in byteSizeUnits where bytes != 0 && bytes % size == 0 {
        return "\(bytes / size)\(names[1])"
    }
    return String(bytes)
}
