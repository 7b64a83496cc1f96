/// The schema of a configuration file's top level.
extension SchemaDecoder {
    static let topLevelKeys = ["threads", "drain_timeout", "pipe_size", "unit_layout", "control", "metrics_listen", "defaults", "listeners", "services"]
    static let pipeSizeRange = (4 << 10)...(64 << 20)

    /// Decodes one file's document (`nil`: the file holds none, which is an empty configuration).
    mutating func fileContents(_ root: YAMLNode?) -> ConfigFileContents {
        var contents = ConfigFileContents()
        guard let root else { return contents }
        let valid = entries(of: root, path: "", validKeys: Self.topLevelKeys) { key in
            Self.serviceKeys.contains(key)
                ? "unknown top-level key '\(key)'; service settings go under services.NAME (or defaults for every service)"
                : nil
        }
        for entry in valid {
            switch entry.key {
            case "threads":
                contents.threads = value(entry, expected: "auto or an integer from 1 to 256") { text -> Int?? in
                    if text == "auto" { return .some(nil) }
                    guard let threads = Int(text), (1...256).contains(threads) else { return nil }
                    return .some(threads)
                }
            case "drain_timeout":
                contents.drainTimeout = value(entry, expected: "a duration such as 500ms, 10s or 5m", parse: parseDuration)
            case "pipe_size":
                contents.pipeSize = value(entry, expected: "a size from 4KiB to 64MiB, such as 65536, 64KiB or 1MiB") {
                    parseByteSize($0).flatMap { Self.pipeSizeRange.contains($0) ? $0 : nil }
                }
            case "unit_layout":
                contents.unitLayout = value(entry, expected: "per-service or shared") { UnitLayout(rawValue: $0) }
            case "control":
                contents.control = control(entry)
            case "metrics_listen":
                contents.metricsListen = value(entry, expected: "an address such as 127.0.0.1:9101, [::1]:9101, :9101 or unix:/path") {
                    guard let address = try? parseListenAddress($0) else { return nil }
                    if case .interface = address { return nil }
                    return address
                }
            case "defaults":
                contents.defaults = defaults(entry.value, path: entry.path)
            case "services":
                contents.services = services(entry.value, path: entry.path)
            case "listeners":
                contents.listeners = listeners(entry.value, path: entry.path)
            default:
                preconditionFailure("'\(entry.key)' is in topLevelKeys but has no decoder")
            }
        }
        return contents
    }
}
