/// The schema of `unit_properties:`, from the table in ``UnitPropertySchema``.
extension SchemaDecoder {
    /// `unit_properties`: unit-file settings of a transient unit, each read into its D-Bus name
    /// and type, in file order.
    mutating func unitProperties(_ entry: Entry) -> [WrittenUnitProperty]? {
        guard entry.value.isMapping else {
            report(
                "expected a mapping of unit settings to values, such as {MemoryMax: 512M, CPUQuota: 50%}; "
                    + "found \(entry.value.summary)",
                at: entry.value, path: entry.path)
            return nil
        }
        let errorCount = errors.count
        let names = UnitPropertySchema.all.map(\.name)
        let fields = entries(of: entry.value, path: entry.path, validKeys: names) { name in
            unknownKeyMessage(name, validKeys: names, kind: "unit property", listedAs: "supported properties")
        }
        var properties: [WrittenUnitProperty] = []
        for field in fields {
            guard let schema = UnitPropertySchema.named(field.key) else {
                preconditionFailure("'\(field.key)' is a valid unit property but not in the table")
            }
            if let value = unitPropertyValue(field, kind: schema.kind) {
                properties.append(WrittenUnitProperty(
                    name: field.key, property: UnitProperty(name: schema.busName, value: value), entry: field))
            }
        }
        return errors.count == errorCount ? properties : nil
    }

    private mutating func unitPropertyValue(_ entry: Entry, kind: UnitPropertySchema.Kind) -> UnitProperty.Value? {
        switch kind {
        case .boolean:
            return bool(entry).map { .boolean($0) }
        case .environment:
            guard case .sequence(let items) = entry.value.content else {
                report("expected \(kind.expected); found \(entry.value.summary)", at: entry.value, path: entry.path)
                return nil
            }
            let errorCount = errors.count
            var assignments: [String] = []
            for (index, item) in items.enumerated() {
                let path = entry.path.keyPath(index: index)
                guard case .scalar(let text, _) = item.content, !item.isNull,
                    let equals = text.firstIndex(of: "="), isValidEnvironmentName(text[..<equals]),
                    !text.contains("\0")
                else {
                    report(
                        "expected NAME=value, with a NAME of letters, digits and '_' not starting with a digit; "
                            + "found \(item.summary)",
                        at: item, path: path)
                    continue
                }
                assignments.append(text)
            }
            return errors.count == errorCount ? .strings(assignments) : nil
        default:
            return value(entry, expected: kind.expected, parse: kind.parse)
        }
    }
}
