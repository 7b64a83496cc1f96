/// Reads values out of ``YAMLNode``s against the schema, collecting every problem as a
/// ``ConfigError`` instead of stopping at the first.
///
/// Each reader returns `nil` after reporting a problem, so decoding carries on with the next key.
/// The schema itself (which keys mean what) is in `ConfigFileDecoder.swift` and
/// `ServiceDecoder.swift`.
struct SchemaDecoder {
    /// One key and its value in a mapping, with the key path of the value.
    struct Entry {
        var key: String
        var keyNode: YAMLNode
        var value: YAMLNode
        var path: String
    }

    private(set) var errors: [ConfigError] = []

    mutating func report(_ message: String, at node: YAMLNode, path: String) {
        report(message, at: node.location, path: path)
    }

    mutating func report(_ message: String, at location: SourceLocation, path: String) {
        errors.append(ConfigError(location: location, keyPath: path, message: message))
    }

    /// The entries of a mapping, reporting a node that is not a mapping, keys that are not
    /// scalars, and keys written twice (the first one counts). An empty value (`services:` with
    /// nothing under it) is an empty mapping.
    mutating func entries(of node: YAMLNode, path: String) -> [Entry] {
        if node.isNull { return [] }
        guard case .mapping(let pairs) = node.content else {
            report("expected a mapping; found \(node.summary)", at: node, path: path)
            return []
        }
        var entries: [Entry] = []
        var firstLines: [String: Int] = [:]
        for (keyNode, value) in pairs {
            guard case .scalar(let key, _) = keyNode.content else {
                report("expected a key name; found \(keyNode.summary) as a key", at: keyNode, path: path)
                continue
            }
            let entryPath = path.keyPath(appending: key)
            if let firstLine = firstLines[key] {
                report("duplicate key '\(key)', first at line \(firstLine)", at: keyNode, path: entryPath)
                continue
            }
            firstLines[key] = keyNode.location.line
            entries.append(Entry(key: key, keyNode: keyNode, value: value, path: entryPath))
        }
        return entries
    }

    /// The entries of a mapping whose keys must be among `validKeys`; unknown keys are reported
    /// (with `unknownKey` giving the message) and left out.
    mutating func entries(
        of node: YAMLNode, path: String, validKeys: [String],
        unknownKey: (String) -> String? = { _ in nil }
    ) -> [Entry] {
        entries(of: node, path: path).filter { entry in
            if validKeys.contains(entry.key) { return true }
            let message = unknownKey(entry.key) ?? unknownKeyMessage(entry.key, validKeys: validKeys)
            report(message, at: entry.keyNode, path: entry.path)
            return false
        }
    }

    /// A scalar read by `parse`; anything else, or text `parse` rejects, is reported as
    /// "expected `expected`; found ...".
    mutating func value<Value>(
        _ entry: Entry, expected: String, parse: (String) -> Value?
    ) -> Value? {
        if case .scalar(let text, _) = entry.value.content, !entry.value.isNull, let value = parse(text) {
            return value
        }
        report("expected \(expected); found \(entry.value.summary)", at: entry.value, path: entry.path)
        return nil
    }

    /// A boolean: `true`/`false`, `yes`/`no` or `on`/`off` in any case, unquoted.
    mutating func bool(_ entry: Entry) -> Bool? {
        if let quoted = quotedBoolean(entry.value) {
            report("expected true or false; found \(quoted)", at: entry.value, path: entry.path)
            return nil
        }
        return value(entry, expected: "true or false") { parseBoolean($0) }
    }

    /// An integer in `range`, written in decimal.
    mutating func integer(_ entry: Entry, in range: ClosedRange<Int>) -> Int? {
        value(entry, expected: "an integer from \(range.lowerBound) to \(range.upperBound)") { text in
            Int(text).flatMap { range.contains($0) ? $0 : nil }
        }
    }

    /// For a quoted scalar that would be a boolean without its quotes: what was found, for the
    /// message (`the string "true" (remove the quotes)`).
    func quotedBoolean(_ node: YAMLNode) -> String? {
        guard case .scalar(let text, .quoted) = node.content, parseBoolean(text) != nil else { return nil }
        return "the string \"\(text)\" (remove the quotes)"
    }
}

/// YAML 1.1 and 1.2 spellings of a boolean, in any case.
func parseBoolean(_ text: String) -> Bool? {
    switch text.lowercased() {
    case "true", "yes", "on": true
    case "false", "no", "off": false
    default: nil
    }
}
