/// One problem found in the configuration, located precisely enough for an operator to fix it.
///
/// The loader collects every problem of a pass (see ``ConfigErrors``) instead of stopping at the
/// first, so one run of `znetd --check` shows everything that is wrong.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the offending node is: the value for wrong values, the key for unknown or duplicate keys.
    /// `nil` when there is no such place (a file that cannot be read).
    public var location: SourceLocation?
    /// The dotted path of the offending setting, e.g. `services.web.listen[1]`; empty for the
    /// whole file (syntax errors).
    public var keyPath: String
    /// What was expected and what was found, with a hint where one helps.
    public var message: String

    public init(location: SourceLocation?, keyPath: String, message: String) {
        self.location = location
        self.keyPath = keyPath
        self.message = message
    }

    /// `FILE:LINE:COL: KEYPATH: MESSAGE`, leaving out the parts that are missing.
    public var description: String {
        var parts: [String] = []
        if let location { parts.append(location.description) }
        if !keyPath.isEmpty { parts.append(keyPath) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}

/// Every problem found in one pass over the configuration, in file order.
///
/// A configuration with any problem yields no ``Configuration`` at all: the daemon never runs a
/// half-understood configuration.
public struct ConfigErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    /// One error per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}

extension String {
    /// This key path with `key` appended: `services` + `web` is `services.web`.
    func keyPath(appending key: String) -> String {
        isEmpty ? key : "\(self).\(key)"
    }

    /// This key path with a sequence index appended: `listen` + 1 is `listen[1]`.
    func keyPath(index: Int) -> String {
        "\(self)[\(index)]"
    }
}
